//! The manifest: its model, loading with source spans, and validation.

pub mod model;
pub mod orgno;
