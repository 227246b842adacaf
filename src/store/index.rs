//! The old path of the tantivy index, kept while its callers move to
//! [`crate::store::open_index`] and [`crate::store::open_search`]:
//! `store::index::MentionIndex` is [`TantivyIndex`](super::tantivy::TantivyIndex)
//! with its inherent methods (`open`, `open_read_only`, `add`, `commit`,
//! `num_docs`, `search`, `between`, `tantivy`). Remove it once nothing names it.

pub use super::IndexError;
pub use super::tantivy::{MentionBatches, TOKENIZER, TantivyIndex as MentionIndex};
