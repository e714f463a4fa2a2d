//! tls (placeholder).
