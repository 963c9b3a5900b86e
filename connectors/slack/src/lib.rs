//! slack connector (placeholder).
