//! The fuzz targets' inputs as a regression suite: every file of the seed
//! corpora (`fuzz/corpus/<target>/`) and of the crashes found so far
//! (`fuzz/regressions/<target>/`, one file per bug, named after it) runs
//! through the same `veilleur::fuzz` function as its target, in the plain
//! test build. A target without a case here fails the test, so a new one
//! cannot be forgotten.

use std::path::Path;

/// The function each target calls (as `fuzz/src/bin/<target>.rs` does).
fn target(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "query" => veilleur::fuzz::query,
        "rule_file" => veilleur::fuzz::rule_file,
        "config" => veilleur::fuzz::config,
        "feed" => veilleur::fuzz::feed,
        "html" => veilleur::fuzz::html,
        "duration" => veilleur::fuzz::duration,
        "json" => veilleur::fuzz::json,
        "social" => veilleur::fuzz::social,
        "forum_page" => veilleur::fuzz::forum_page,
        "forum_date" => veilleur::fuzz::forum_date,
        _ => return None,
    })
}

fn replay(dir: &Path) -> usize {
    let mut n = 0;
    let Ok(targets) = std::fs::read_dir(dir) else {
        return 0;
    };
    for t in targets {
        let t = t.unwrap().path();
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        let f = target(&name).unwrap_or_else(|| panic!("{}: no such fuzz target", t.display()));
        for input in std::fs::read_dir(&t).unwrap() {
            let input = input.unwrap().path();
            let bytes = std::fs::read(&input).unwrap();
            let r = std::panic::catch_unwind(|| f(&bytes));
            assert!(r.is_ok(), "{} fails its target", input.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_and_every_crash_found_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let targets: Vec<String> = std::fs::read_dir(root.join("src/bin"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    for t in &targets {
        assert!(target(t).is_some(), "fuzz target {t} is missing here");
        assert!(
            root.join("corpus").join(t).is_dir(),
            "fuzz target {t} has no seed corpus"
        );
    }
    let seeds = replay(&root.join("corpus"));
    let crashes = replay(&root.join("regressions"));
    assert!(seeds >= targets.len(), "{seeds} seeds");
    println!("{seeds} seeds, {crashes} regressions");
}
