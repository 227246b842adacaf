//! `veilleur import` keeps going past a bad line: a line that is not UTF-8
//! or not a mention is reported with its number, the valid lines before and
//! after it are indexed, and the exit code says something was skipped.

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

#[test]
fn import_reports_an_invalid_utf8_line_and_indexes_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/acme.toml"),
        "[watch]\nname = \"acme\"\nquery = \"acme\"\n",
    )
    .unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut jsonl = Vec::new();
    jsonl.extend_from_slice(
        br#"{"url":"https://ex.org/1","title":"Acme un","text":"acme","published":"2026-03-01T10:00:00Z"}"#,
    );
    jsonl.push(b'\n');
    jsonl.extend_from_slice(
        b"{\"url\":\"https://ex.org/2\",\"title\":\"Caf\xe9 Acme\",\"text\":\"acme\",\"published\":\"2026-03-01T10:01:00Z\"}\n",
    );
    jsonl.extend_from_slice(b"not json\n");
    jsonl.extend_from_slice(
        br#"{"url":"https://ex.org/3","title":"Acme trois","text":"acme","published":"2026-03-01T10:02:00Z"}"#,
    );
    jsonl.push(b'\n');
    let file = dir.path().join("m.jsonl");
    std::fs::write(&file, jsonl).unwrap();

    let out = Command::new(BIN)
        .args(["import", "--config"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("m.jsonl:2: skipped: not valid UTF-8"), "{err}");
    assert!(err.contains("m.jsonl:3: skipped"), "{err}");

    let urls: Vec<String> = common::search_json(&config, "acme")
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls, vec!["https://ex.org/3", "https://ex.org/1"]);
}
