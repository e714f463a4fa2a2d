//! fingerprint (placeholder).
