//! hubspot connector (placeholder).
