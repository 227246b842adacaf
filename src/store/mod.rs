//! Persistence: the tantivy mention index and the redb state store.
//!
//! Each sits behind its own narrow type so that another back end (Quickwit
//! for the index) is a new file, not a rewrite.

pub mod index;
pub mod state;
