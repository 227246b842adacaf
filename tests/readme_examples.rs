//! Documentation cannot drift or vanish silently: every config and rule
//! example of the README, every query example of its query-language table,
//! the example config in `deploy/` and every watch in `rules/` go through the
//! real `veilleur check`.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The ```toml blocks of a Markdown text, with the line each starts on.
fn toml_blocks(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in md.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```toml") => {
                current = Some((n + 1, String::new()))
            }
            Some(_) if line.trim_start().starts_with("```") => out.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Points `data_dir` and `rules_dir` of a config text at `dir`'s folders.
fn relocate(config: &str, data: &Path, rules: &Path) -> String {
    config
        .lines()
        .map(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            match key {
                "data_dir" => format!("data_dir = {:?}", data.display().to_string()),
                "rules_dir" => format!("rules_dir = {:?}", rules.display().to_string()),
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `veilleur check` on a config file; the secrets the examples name
/// are set, as an operator would.
fn check(config: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .env("VEILLEUR_SMTP_PASSWORD", "secret")
        .env("VEILLEUR_WEBHOOK_SECRET", "secret")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A scratch setup: the README's first config block, rules in `rules/`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rules")).unwrap();
        let text = relocate(config, &dir.path().join("data"), &dir.path().join("rules"));
        std::fs::write(dir.path().join("veilleur.toml"), text).unwrap();
        Setup { dir }
    }

    fn rule(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("rules").join(name), text).unwrap();
    }

    fn check(&self) -> (bool, String) {
        check(&self.dir.path().join("veilleur.toml"))
    }
}

fn readme_config() -> String {
    let md = readme();
    toml_blocks(&md)
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| b.contains("[daemon]"))
        .expect("the README shows a config example with a [daemon] section")
}

#[test]
fn readme_config_examples_pass_check() {
    let md = readme();
    let configs: Vec<(usize, String)> = toml_blocks(&md)
        .into_iter()
        .filter(|(_, b)| b.contains("[daemon]"))
        .collect();
    assert!(!configs.is_empty(), "the README lost its config example");
    for (line, block) in configs {
        let s = Setup::new(&block);
        let (ok, out) = s.check();
        assert!(
            ok,
            "README.md:{line}: config example rejected by check:\n{out}"
        );
    }
}

#[test]
fn readme_rule_examples_pass_check() {
    let md = readme();
    let rules: Vec<(usize, String)> = toml_blocks(&md)
        .into_iter()
        .filter(|(_, b)| b.contains("[watch]"))
        .collect();
    assert!(!rules.is_empty(), "the README lost its rule-file example");
    for (line, block) in rules {
        let s = Setup::new(&readme_config());
        s.rule("example.toml", &block);
        let (ok, out) = s.check();
        assert!(
            ok,
            "README.md:{line}: rule example rejected by check:\n{out}"
        );
    }
}

/// The examples column of the query-language table, and the inline
/// `query = '…'` snippets of the prose.
fn query_examples(md: &str) -> Vec<(usize, String)> {
    let start = md
        .find("## Query language")
        .expect("the README lost its \"Query language\" section");
    let section = &md[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let first_line = md[..start].lines().count();
    let mut out = Vec::new();
    for (n, line) in section[..end].lines().enumerate() {
        let cells: Vec<&str> = line.split('|').collect();
        // | syntax | meaning | example |
        if cells.len() >= 5 && !line.contains("---") && !cells[1].contains("syntax") {
            for q in backticked(cells[3]) {
                out.push((first_line + n + 1, q));
            }
        }
    }
    for (n, line) in md.lines().enumerate() {
        for span in backticked(line) {
            if let Some(q) = span
                .strip_prefix("query = '")
                .and_then(|q| q.strip_suffix('\''))
            {
                out.push((n + 1, q.to_string()));
            }
        }
    }
    out
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, p)| p.to_string())
        .collect()
}

#[test]
fn readme_query_examples_pass_check() {
    let md = readme();
    let examples = query_examples(&md);
    // One example per construct at least: words, phrases, AND, OR, NOT,
    // groups, prefixes, NEAR, ONEAR, fields, handles, emojis.
    assert!(
        examples.len() >= 15,
        "the query-language table lost its examples: {examples:?}"
    );
    for construct in [
        "NEAR/", "ONEAR/", "NOT", "OR", "*", "title:", "lang:", "url:", "\"",
    ] {
        assert!(
            examples.iter().any(|(_, q)| q.contains(construct)),
            "no README example uses `{construct}`"
        );
    }
    let s = Setup::new(&readme_config());
    for (i, (_, q)) in examples.iter().enumerate() {
        s.rule(
            &format!("q{i:02}.toml"),
            &format!("[watch]\nname = \"q{i:02}\"\nquery = '''{q}'''\n"),
        );
    }
    let (ok, out) = s.check();
    let lines: Vec<String> = examples
        .iter()
        .map(|(l, q)| format!("README.md:{l}: {q}"))
        .collect();
    assert!(
        ok,
        "a README query example is rejected:\n{out}\nexamples:\n{}",
        lines.join("\n")
    );
}

#[test]
fn deploy_config_and_bundled_rules_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(repo().join("deploy/veilleur.toml")).unwrap();
    let text = relocate(&config, &dir.path().join("data"), &repo().join("rules"));
    let path = dir.path().join("veilleur.toml");
    std::fs::write(&path, text).unwrap();
    let (ok, out) = check(&path);
    assert!(
        ok,
        "deploy/veilleur.toml with rules/ rejected by check:\n{out}"
    );
    let watches = std::fs::read_dir(repo().join("rules"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    assert!(watches >= 4, "rules/ should hold the example watches");
    assert!(
        out.contains(&format!("{watches} watch")),
        "check should report the {watches} watches of rules/: {out}"
    );
}
