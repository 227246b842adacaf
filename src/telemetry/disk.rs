//! Disk usage of the data directory's parts, for the `index_disk_bytes`
//! and `state_disk_bytes` gauges. Blocking (it walks directories): the
//! daemon calls it on the pipeline's blocking thread.

use std::path::Path;

/// Bytes of the regular files under `path` (or of `path` itself when it is
/// a file); symbolic links are not followed, unreadable entries count 0.
pub(crate) fn usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| usage(&e.path()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_files_of_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(usage(dir.path()), 123);
        assert_eq!(usage(&dir.path().join("a")), 100);
        assert_eq!(usage(&dir.path().join("missing")), 0);
    }
}
