//! The ingest step: dedupe, counts and cursors committed after the index,
//! live history that never alerts, and a batched replay equal to the
//! detector's own.
