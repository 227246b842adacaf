//! Rule files written to hurt: `check` reports them as errors with their
//! place, and never aborts (a stack overflow here would also crash a running
//! daemon on hot reload).

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

fn check_rule(rule: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("veilleur.toml"),
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("rules/deep.toml"), rule).unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(dir.path().join("veilleur.toml"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_refuses_ten_thousand_nested_parentheses_with_a_place() {
    let q = format!("{}acme{}", "(".repeat(10_000), ")".repeat(10_000));
    let (code, err) = check_rule(&format!("[watch]\nname = \"deep\"\nquery = '{q}'\n"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("deep.toml:3:"), "{err}");
    assert!(err.contains("nested too deeply"), "{err}");
}

#[test]
fn check_refuses_ten_thousand_nots_in_exclude() {
    let q = "NOT ".repeat(10_000) + "promo";
    let (code, err) = check_rule(&format!(
        "[watch]\nname = \"deep\"\nquery = 'acme'\nexclude = '{q}'\n"
    ));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("deep.toml:4:"), "{err}");
    assert!(err.contains("nested too deeply"), "{err}");
}

#[test]
fn check_refuses_a_duration_that_overflows_with_its_place() {
    for window in [
        "213503982334602d",
        "10000000000000000000s10000000000000000000s",
    ] {
        let (code, err) = check_rule(&format!(
            "[watch]\nname = \"deep\"\nquery = 'acme'\n\n[[alert]]\nname = \"spike\"\nkind = \"volume_spike\"\nwindow = \"{window}\"\n"
        ));
        assert_eq!(code, 1, "{window}: {err}");
        assert!(err.contains("deep.toml:8:"), "{window}: {err}");
        assert!(err.contains("too large"), "{window}: {err}");
    }
}

#[test]
fn search_refuses_ten_thousand_nested_parentheses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let q = format!("{}acme{}", "(".repeat(10_000), ")".repeat(10_000));
    let out = Command::new(BIN)
        .args(["search", "--config"])
        .arg(&config)
        .arg(&q)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err:.300}");
    assert!(err.contains("nested too deeply"), "{err:.300}");
}

/// The daemon reloads a rule file of 10,000 nested parentheses as a reload
/// error and keeps running on the previous rules (it used to die of a stack
/// overflow, a crash loop under systemd).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_survives_hot_reload_of_a_deeply_nested_rule() {
    veilleur::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let rule = dir.path().join("rules/acme.toml");
    std::fs::write(&rule, "[watch]\nname = \"acme\"\nquery = 'acme'\n").unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let d = common::start_daemon(&config, None).await;
    let q = format!("{}acme{}", "(".repeat(10_000), ")".repeat(10_000));
    std::fs::write(&rule, format!("[watch]\nname = \"acme\"\nquery = '{q}'\n")).unwrap();
    let text = d
        .metrics_until("veilleur_rules_reload_errors_total", 1.0)
        .await;
    assert_eq!(
        common::metric(&text, "veilleur_rules_reload_errors_total"),
        Some(1.0),
        "{text}"
    );
    d.stop().await;
}
