//! dns (placeholder).
