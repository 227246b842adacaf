//! Every bound on hostile or accidental input, as numbers in one place.
//!
//! A value over a limit is refused with a clear error that names the limit
//! and where the input broke it — never a panic, a stack overflow or a
//! silent truncation. Parsers that recurse are depth-limited by these
//! numbers before they recurse.

/// Longest query string (a watch's `query` or `exclude`, or a search), in
/// bytes: a watch of a thousand alternatives fits many times over.
pub(crate) const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Deepest nesting of a query: parentheses, and `NOT`s in a row, each count
/// one level. The parser, the matcher, the index translation and the
/// printer all recurse over the tree, so this bounds their stack use.
pub(crate) const MAX_QUERY_DEPTH: usize = 64;
