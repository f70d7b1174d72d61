//! Integration tests (placeholder until the stand-in lands).
