//! Every bound on hostile or accidental input, as numbers in one place.
//!
//! A value over a limit is refused with a clear error that names the limit
//! and where the input broke it — never a panic, a stack overflow or a
//! silent truncation. Parsers that recurse are depth-limited by these
//! numbers before they recurse.

/// Longest query string (a watch's `query` or `exclude`, or a search), in
/// bytes: a watch of a thousand alternatives fits many times over.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Deepest nesting of a query: parentheses, and `NOT`s in a row, each count
/// one level. The parser, the matcher, the index translation and the
/// printer all recurse over the tree, so this bounds their stack use.
pub const MAX_QUERY_DEPTH: usize = 64;

/// HTML (or text) longer than this is cut (at a char boundary) before
/// `normalize::html_to_text` reads it: no mention needs more text, and it
/// bounds the work a hostile page can cause.
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

/// Largest rule file, in bytes. A watch with its alerts is a few hundred
/// bytes; a megabyte is thousands of times that, and keeps a stray file
/// (a log, a dump) from being parsed as rules on every reload.
pub const MAX_RULE_FILE_BYTES: u64 = 1024 * 1024;

/// Most watches in a rules directory. The matcher, the per-watch buckets
/// and the metric labels grow with it; the load bench runs 500.
pub const MAX_WATCHES: usize = 5_000;

/// Longest duration a config, a rule or the command line may write: ten
/// years. Windows, cooldowns and intervals are added to timestamps, and
/// anything longer is a typo that would overflow them.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(3_660 * 86_400);

/// Deepest JSON nesting accepted from anyone: serde_json's own recursion
/// limit, which refuses deeper input with an error at its line and column.
/// Every JSON we read (feeds, import lines, API payloads, our own state)
/// goes through serde_json with this limit on; the `unbounded_depth`
/// feature must stay off (tests/limits.rs feeds it 100,000 levels).
pub const MAX_JSON_DEPTH: usize = 128;

/// Most items one fetch of one source yields; the rest (a feed's oldest
/// entries, usually) are dropped and counted in
/// `veilleur_source_items_dropped_total`. A busy feed carries 10 to 100.
pub const MAX_ITEMS_PER_FETCH: usize = 10_000;

/// Longest title or text of one mention, in bytes, after HTML to text; a
/// longer one is cut at the last word break before it and counted in
/// `veilleur_mention_text_cut_total`. A long article is 30 to 50 KB.
pub const MAX_MENTION_TEXT_BYTES: usize = 64 * 1024;

/// Parses JSON from a stranger with the depth limit ([`MAX_JSON_DEPTH`])
/// made explicit: the one entry point for JSON that did not come from us.
pub fn json_from_slice<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}
