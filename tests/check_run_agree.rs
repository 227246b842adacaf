//! `veilleur check` runs the validation `veilleur run` does: a config that
//! `run` refuses (an address with a line break, a secret that cannot be
//! resolved) is an error in `check` too, and the secret is never printed.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

fn setup(channel: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("veilleur.toml"),
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n\n{channel}"
        ),
    )
    .unwrap();
    dir
}

fn veilleur(cmd: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args([cmd, "--config"])
        .arg(dir.join("veilleur.toml"))
        .env_remove("VEILLEUR_TEST_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    if cmd == "run" {
        // A daemon that starts would run forever: give it a moment, then
        // stop it, and tell the two outcomes apart by what it printed.
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = child.kill();
        return child.wait_with_output().unwrap();
    }
    c.output().unwrap()
}

const MAIL: &str = "[[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp = \"smtp://veille@127.0.0.1:2525?tls=none\"\n";

#[test]
fn check_refuses_a_from_address_with_a_line_break_as_run_does() {
    let dir = setup(&format!(
        "{MAIL}from = \"veille@example.org\\r\\nBcc: leak@example.org\"\nto = [\"comms@example.org\"]\npassword_env = \"VEILLEUR_TEST_PASSWORD\"\n"
    ));
    let env = [("VEILLEUR_TEST_PASSWORD", "hunter2")];
    for cmd in ["check", "run"] {
        let out = veilleur(cmd, dir.path(), &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains("veilleur.toml:10:8: invalid from address"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn check_refuses_an_unset_password_variable_without_printing_secrets() {
    let dir = setup(&format!(
        "{MAIL}from = \"veille@example.org\"\nto = [\"comms@example.org\"]\npassword_env = \"VEILLEUR_TEST_PASSWORD\"\n"
    ));
    let out = veilleur("check", dir.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("channel `mail`: environment variable VEILLEUR_TEST_PASSWORD is not set"),
        "{err}"
    );
    assert!(err.ends_with("1 error\n"), "{err}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains(": ok"), "no ok line beside an error: {said}");
    let run = veilleur("run", dir.path(), &[]);
    let run_err = String::from_utf8_lossy(&run.stderr);
    assert!(
        run_err.contains("VEILLEUR_TEST_PASSWORD is not set"),
        "{run_err}"
    );
    // Set, it passes, and the value is printed nowhere.
    let out = veilleur(
        "check",
        dir.path(),
        &[("VEILLEUR_TEST_PASSWORD", "hunter2-secret")],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn check_refuses_an_unreadable_webhook_secret_file() {
    let dir = setup(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hooks/x\"\nsecret_file = \"missing-secret.txt\"\n",
    );
    let out = veilleur("check", dir.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("channel `hook`"), "{err}");
    assert!(err.contains("missing-secret.txt"), "{err}");
    std::fs::write(dir.path().join("missing-secret.txt"), "s3cr3t-value\n").unwrap();
    let out = veilleur("check", dir.path(), &[]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains("s3cr3t"), "{all}");
}
