//! Rule files written to hurt: `check` reports them as errors with their
//! place, and never aborts (a stack overflow here would also crash a running
//! daemon on hot reload).

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
