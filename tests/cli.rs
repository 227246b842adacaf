//! The binary as a user runs it: `check` on good and bad files, and `run`
//! stopped by SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

const CONFIG: &str = r#"
[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"

[[channel]]
name = "mail"
kind = "email"
smtp = "smtp://127.0.0.1:2525?tls=none"
from = "veilleur@example.org"
to = ["comms@example.org"]
"#;

fn setup(rule: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("veilleur.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("rules/acme.toml"), rule).unwrap();
    dir
}

fn check(dir: &tempfile::TempDir) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(dir.path().join("veilleur.toml"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"[watch]
name = "acme"
query = '"acme" OR "acme corp" OR acmé'
exclude = '"acme road runner"'

[[alert]]
name = "bad-buzz"
kind = "volume_spike"
window = "1h"
notify = ["mail"]
"#;

#[test]
fn check_accepts_a_good_setup() {
    let dir = setup(GOOD);
    let (code, out, err) = check(&dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok — 0 sources, 1 channels, 1 watches, 1 alert rules"),
        "{out}"
    );
}

/// One bad rule file per validation rule: the message and the line it must name.
#[test]
fn check_rejects_each_bad_rule_file_with_file_and_line() {
    let cases = [
        (
            "unclosed quote",
            GOOD.replace(r#"'"acme" OR"#, r#"'"acme OR"#),
            "acme.toml:3:",
            "quote",
        ),
        (
            "dangling operator",
            GOOD.replace("OR acmé'", "OR'"),
            "acme.toml:3:",
            "OR",
        ),
        (
            "unknown alert kind",
            GOOD.replace("volume_spike", "telepathy"),
            "acme.toml:8:",
            "unknown alert kind",
        ),
        (
            "bad duration",
            GOOD.replace("\"1h\"", "\"1 hour\""),
            "acme.toml:9:",
            "bad duration",
        ),
        (
            "unknown channel",
            GOOD.replace("[\"mail\"]", "[\"mail\", \"pager\"]"),
            "acme.toml:10:",
            "unknown channel `pager`",
        ),
        (
            "broken TOML",
            GOOD.replace("[[alert]]", "[[alert]"),
            "acme.toml:6:",
            "",
        ),
    ];
    for (what, rule, at, msg) in cases {
        let dir = setup(&rule);
        let (code, out, err) = check(&dir);
        assert_eq!(code, 1, "{what}: exit code\n{out}{err}");
        assert!(
            err.lines().any(|l| l.contains(at) && l.contains(msg)),
            "{what}: expected `{at}` … `{msg}` in:\n{err}"
        );
        assert!(
            !err.contains("Diagnostic {"),
            "{what}: debug dump in:\n{err}"
        );
    }
}

#[test]
fn run_exits_zero_on_sigterm_within_ten_seconds() {
    let dir = setup(GOOD);
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(dir.path().join("veilleur.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is up: the state store appears under data_dir.
    let up = Instant::now();
    while !dir.path().join("data/state").exists() && up.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "exit status {status}\n{err}");
    assert!(err.contains("stopped"), "{err}");
    // stderr is a pipe here, as under journald: plain text, no colour codes.
    assert!(
        !err.contains('\u{1b}'),
        "colour escapes in a piped log: {err:?}"
    );
}

/// A key of another kind is refused where it is, by the binary: in a
/// channel of the config and in an alert of a rule file.
#[test]
fn check_rejects_keys_of_another_kind_with_file_line_and_column() {
    let dir = setup(&GOOD.replace("window = \"1h\"", "window = \"1h\"\nmin_reach = 1000"));
    let config = CONFIG.replace(
        "to = [\"comms@example.org\"]",
        "to = [\"comms@example.org\"]\nformat = \"slack\"",
    );
    std::fs::write(dir.path().join("veilleur.toml"), config).unwrap();
    let (code, out, err) = check(&dir);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.lines().any(|l| l.contains("veilleur.toml:13:1:")
            && l.contains("a channel of kind `email` does not take `format`")),
        "{err}"
    );
    // The config is refused, so the rules are checked with it fixed.
    std::fs::write(dir.path().join("veilleur.toml"), CONFIG).unwrap();
    let (code, out, err) = check(&dir);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.lines().any(|l| l.contains("acme.toml:10:13:")
            && l.contains(
                "`min_reach` belongs to influencer alerts only, not to volume_spike alerts"
            )),
        "{err}"
    );
    for (key, value) in [("factor", "2.0"), ("warmup", "\"1h\"")] {
        let keyword = GOOD
            .replace(
                "kind = \"volume_spike\"",
                "kind = \"keyword\"\nquery = 'boycott'",
            )
            .replace(
                "window = \"1h\"",
                &format!("window = \"1h\"\n{key} = {value}"),
            );
        std::fs::write(dir.path().join("rules/acme.toml"), keyword).unwrap();
        let (code, out, err) = check(&dir);
        assert_eq!(code, 1, "{out}{err}");
        let at = format!("acme.toml:11:{}:", key.len() + 4);
        assert!(
            err.lines().any(|l| l.contains(&at)
                && l.contains(&format!("`{key}` belongs to volume_spike and negative_surge alerts only, not to keyword alerts"))),
            "{key}: expected {at} in\n{err}"
        );
    }
}
