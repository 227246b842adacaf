//! The file channel: each alert event becomes one `.eml` file (the same RFC
//! 5322 message the email channel sends) in a folder. Used by `veilleur demo`,
//! by tests, and as a mail pickup directory.
//!
//! Owns: the file name and the atomic write. It does not rotate or clean the
//! folder.
//!
//! Invariants: the file name is derived from the idempotency key only
//! (`<sanitised key>-<hash>.eml`), so a retry or a replay rewrites the same
//! file instead of adding one; a reader never sees a half-written file (write
//! to a temporary file in the same folder, then rename); the `Date` header is
//! the event time, so one event always renders to the same bytes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lettre::message::Mailbox;

use super::{NotifyError, email, key_digest};
use crate::alert::AlertEvent;

const FROM: &str = "veilleur <veilleur@localhost>";
const TO: &str = "veille <veille@localhost>";
/// Longest readable part of a file name, before the hash.
const NAME_MAX: usize = 80;

/// Writes alert events as `.eml` files into one folder.
pub struct FileNotifier {
    dir: PathBuf,
    ctx: super::render::Context,
}

impl FileNotifier {
    /// A notifier writing into `dir`, created on first send if missing.
    pub fn new(dir: &Path) -> FileNotifier {
        FileNotifier {
            dir: dir.to_path_buf(),
            ctx: super::render::Context::default(),
        }
    }

    /// Writes messages in `ctx`'s language and time zone, with its links.
    pub fn with_context(mut self, ctx: super::render::Context) -> FileNotifier {
        self.ctx = ctx;
        self
    }

    /// The folder written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the event with idempotency key `key` is written.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(file_name(key))
    }

    /// Writes `ev` to [`FileNotifier::path_for`]`(key)`, replacing any older
    /// copy atomically.
    pub async fn send(
        &self,
        ev: &AlertEvent,
        key: &str,
        chart: Option<&[u8]>,
    ) -> Result<(), NotifyError> {
        // Both constants parse; a failure would be a bug caught by the tests.
        let from: Mailbox = email::mailbox("file", "from", FROM)?;
        let to: Mailbox = email::mailbox("file", "to", TO)?;
        let date = SystemTime::from(ev.at);
        let msg = email::build_message(
            ev,
            key,
            &from,
            &[to],
            date,
            crate::config::DEFAULT_USER_AGENT,
            &self.ctx,
            chart,
        )?;
        let bytes = msg.formatted();
        let dir = self.dir.clone();
        let path = self.path_for(key);
        tokio::task::spawn_blocking(move || write_atomic(&dir, &path, &bytes))
            .await
            .map_err(|e| NotifyError::Io {
                path: self.path_for(key),
                source: std::io::Error::other(e),
            })?
    }
}

impl FileNotifier {
    /// Writes digest `d` (with its `charts` inline) as an `.eml` file at
    /// [`FileNotifier::path_for`]`(key)`.
    pub(crate) async fn send_digest(
        &self,
        d: &crate::digest::Digest,
        key: &str,
        charts: &[(String, Vec<u8>)],
    ) -> Result<(), NotifyError> {
        let from: Mailbox = email::mailbox("file", "from", FROM)?;
        let to: Mailbox = email::mailbox("file", "to", TO)?;
        let msg = email::build_digest_message(
            d,
            key,
            &from,
            &[to],
            SystemTime::from(d.end),
            crate::config::DEFAULT_USER_AGENT,
            &self.ctx,
            charts,
        )?;
        let bytes = msg.formatted();
        let dir = self.dir.clone();
        let path = self.path_for(key);
        tokio::task::spawn_blocking(move || write_atomic(&dir, &path, &bytes))
            .await
            .map_err(|e| NotifyError::Io {
                path: self.path_for(key),
                source: std::io::Error::other(e),
            })?
    }
}

/// `<key with every byte but [A-Za-z0-9._-] as _, at most 80>-<12 hex>.eml`:
/// readable, safe on every file system, and distinct for distinct keys even
/// when sanitising makes them look alike.
pub(crate) fn file_name(key: &str) -> String {
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(NAME_MAX)
        .collect();
    let readable = readable.trim_start_matches('.');
    format!("{readable}-{}.eml", &key_digest(key)[..12])
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), NotifyError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| NotifyError::Io { path: p, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile_in(dir, path)?;
    {
        use std::io::Write;
        tmp.1.write_all(bytes).map_err(io(&tmp.0))?;
        tmp.1.sync_all().map_err(io(&tmp.0))?;
    }
    std::fs::rename(&tmp.0, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp.0);
        NotifyError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Creates `.<name>.<pid>.<n>.tmp` next to `path`, never reusing one.
fn tempfile_in(dir: &Path, path: &Path) -> Result<(PathBuf, std::fs::File), NotifyError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|source| NotifyError::Io {
            path: tmp.clone(),
            source,
        })?;
    Ok((tmp, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_stable() {
        let a = file_name("acme/bad-buzz/firing/1767261600000");
        assert!(a.starts_with("acme_bad-buzz_firing_1767261600000-"), "{a}");
        assert!(a.ends_with(".eml"));
        assert_eq!(a, file_name("acme/bad-buzz/firing/1767261600000"));
        assert_ne!(file_name("a/b"), file_name("a_b"));
        let dots = file_name("../../etc/passwd");
        assert!(!dots.starts_with('.') && !dots.contains('/'), "{dots}");
        assert!(file_name(&"x".repeat(500)).len() < 100);
    }

    #[tokio::test]
    async fn same_key_same_file_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outbox/nested");
        let n = FileNotifier::new(&out);
        let ev = super::super::render::tests::event();
        let key = ev.idempotency_key();
        n.send(&ev, &key, None).await.unwrap();
        let first = std::fs::read(n.path_for(&key)).unwrap();
        n.send(&ev, &key, None).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert_eq!(files.len(), 1, "no temp file left, one file per key");
        assert_eq!(std::fs::read(n.path_for(&key)).unwrap(), first);
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("Subject: "), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
    }
}
