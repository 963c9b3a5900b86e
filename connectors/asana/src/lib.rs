//! asana connector (placeholder).
