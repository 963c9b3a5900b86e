//! Routing rules (issue 3): being written.
