//! A source's resume point: an opaque, kind-defined [`Cursor`], persisted
//! per source in the state store and advanced in the same commit as the
//! mentions it produced.
//!
//! Owns the cursor's forms and its bytes in the store: JSON tagged by
//! `cursor` (`{"cursor":"http","etag":…,"last_modified":…}`). Bytes written
//! before cursors existed are the bare HTTP validators JSON
//! (`{"etag":…,"last_modified":…}`); [`Cursor::from_bytes`] still reads
//! them, so an upgraded daemon keeps sending conditional GETs.
//!
//! Deliberately not here: what a position means (each kind reads and writes
//! its own) and the store itself (`store/state.rs` keeps the bytes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::http::Validators;

/// Where a source resumes. The poll loop and the store never look inside;
/// each kind reads the form it wrote (and treats any other as [`Cursor::Start`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cursor", rename_all = "snake_case")]
pub enum Cursor {
    /// Nothing stored yet: the first poll.
    #[default]
    Start,
    /// HTTP validators of the last fetch, for a conditional GET (feeds,
    /// pages).
    Http(Validators),
    /// API positions by stream: one entry per hashtag, subreddit or query
    /// (`""` when the source has one stream), holding what the API resumes
    /// from: a `min_id`, an `after`, a cursor string, a timestamp.
    Positions { positions: BTreeMap<String, String> },
}

/// The bytes stored before cursors existed: exactly the validators' keys,
/// so that a cursor of an unknown form is not mistaken for them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyValidators {
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
}

impl Cursor {
    /// The bytes kept in the state store.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising strings and string maps to JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads stored bytes: a cursor, or the validators JSON stored before
    /// cursors existed (read as [`Cursor::Http`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Cursor, serde_json::Error> {
        serde_json::from_slice::<Cursor>(bytes).or_else(|e| {
            serde_json::from_slice::<LegacyValidators>(bytes)
                .map(|v| {
                    Cursor::Http(Validators {
                        etag: v.etag,
                        last_modified: v.last_modified,
                    })
                })
                .map_err(|_| e)
        })
    }

    /// The validators to make the next request conditional with (none
    /// unless the cursor is [`Cursor::Http`]).
    pub fn validators(&self) -> Validators {
        match self {
            Cursor::Http(v) => v.clone(),
            Cursor::Start | Cursor::Positions { .. } => Validators::default(),
        }
    }

    /// The position stored for `stream`, if any.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the API source kinds of the next issue read their per-stream positions with it"
        )
    )]
    pub(crate) fn position(&self, stream: &str) -> Option<&str> {
        match self {
            Cursor::Positions { positions } => positions.get(stream).map(String::as_str),
            Cursor::Start | Cursor::Http(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &str, expected: Cursor) {
        assert_eq!(
            Cursor::from_bytes(bytes.as_bytes()).unwrap(),
            expected,
            "{bytes}"
        );
        let again = Cursor::from_bytes(&expected.to_bytes()).unwrap();
        assert_eq!(again, expected);
    }

    #[test]
    fn cursors_round_trip_and_old_validators_still_read() {
        let v = Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Wed, 04 Mar 2026 12:00:00 GMT".into()),
        };
        // Written by the daemon before cursors existed.
        check(
            r#"{"etag":"\"v1\"","last_modified":"Wed, 04 Mar 2026 12:00:00 GMT"}"#,
            Cursor::Http(v.clone()),
        );
        check(
            r#"{"etag":null,"last_modified":null}"#,
            Cursor::Http(Validators::default()),
        );
        check(
            r#"{"etag":"x"}"#,
            Cursor::Http(Validators {
                etag: Some("x".into()),
                last_modified: None,
            }),
        );
        // Written now.
        check(
            r#"{"cursor":"http","etag":"\"v1\"","last_modified":"Wed, 04 Mar 2026 12:00:00 GMT"}"#,
            Cursor::Http(v.clone()),
        );
        check(r#"{"cursor":"start"}"#, Cursor::Start);
        let api = Cursor::Positions {
            positions: [("tag:acme".to_string(), "1123581321".to_string())].into(),
        };
        check(
            r#"{"cursor":"positions","positions":{"tag:acme":"1123581321"}}"#,
            api.clone(),
        );
        assert_eq!(api.position("tag:acme"), Some("1123581321"));
        assert_eq!(api.position("tag:other"), None);
        assert!(api.validators().is_empty());
        assert_eq!(Cursor::Http(v.clone()).validators(), v);
        assert_eq!(
            String::from_utf8(Cursor::Http(v).to_bytes()).unwrap(),
            r#"{"cursor":"http","etag":"\"v1\"","last_modified":"Wed, 04 Mar 2026 12:00:00 GMT"}"#
        );
        // Garbage is an error, for the caller to log and start over.
        assert!(Cursor::from_bytes(b"etag").is_err());
        assert!(Cursor::from_bytes(br#"{"cursor":"telepathy"}"#).is_err());
    }
}
