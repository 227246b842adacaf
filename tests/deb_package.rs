//! Packaging: `cargo deb` builds a package whose contents (`dpkg-deb -c`)
//! hold a stripped binary, the unit, the example config and rules in FHS
//! places and the maintainer scripts; the Dockerfile builds an image that
//! runs as a non-root user.
//!
//! Each is skipped, with a message saying so, where its tool is missing:
//! `cargo deb` (`cargo install cargo-deb`; `.ci/run` installs it), a
//! running docker or podman engine. Both can build a release binary, which
//! takes minutes: they are `#[ignore]`d in a plain `cargo test` and run by
//! `.ci/run` (`cargo test --test deb_package -- --ignored`).
//!
//! `VEILLEUR_DEB_PROFILE` names the cargo profile the package is built
//! from (unset: `release`, what `cargo deb` builds for a user). `.ci/run`
//! sets `dev`, so that the package reuses the binary `cargo test` has
//! just built instead of a second, release, build of the whole tree
//! (minutes on CI's two cores): what this test checks — the layout,
//! modes, owners, conffiles, maintainer scripts and stripping — does not
//! depend on the optimisation level.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

#[test]
#[ignore = "builds a release binary unless VEILLEUR_DEB_PROFILE names another (minutes): .ci/run runs it with --ignored"]
fn cargo_deb_builds_a_package_with_the_unit_config_and_a_stripped_binary() {
    if !succeeds(Command::new(cargo()).args(["deb", "--version"])) {
        println!(
            "SKIPPED: `cargo deb` is not installed (cargo install cargo-deb): the .deb was not built"
        );
        return;
    }
    if !succeeds(Command::new("dpkg-deb").arg("--version")) {
        println!("SKIPPED: dpkg-deb is not installed: the .deb was not built");
        return;
    }
    let profile = std::env::var("VEILLEUR_DEB_PROFILE").unwrap_or_else(|_| "release".into());
    println!("building the .deb from the `{profile}` profile");
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(cargo())
        .args([
            "deb",
            "--locked",
            "--strip",
            "--profile",
            &profile,
            "--output",
        ])
        .arg(out_dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo deb failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb: PathBuf = std::fs::read_dir(out_dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb in the output directory");
    let list = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    println!("{}\n{list}", deb.display());
    let entry = |path: &str| {
        list.lines()
            .find(|l| l.ends_with(&format!(".{path}")))
            .unwrap_or_else(|| panic!("{path} missing from\n{list}"))
            .to_string()
    };
    let bin_entry = entry("/usr/bin/veilleur");
    assert!(bin_entry.starts_with("-rwxr-xr-x"), "{bin_entry}");
    assert!(
        bin_entry.contains(" root/root ") || bin_entry.contains(" 0/0 "),
        "owned by root: {bin_entry}"
    );
    assert!(entry("/lib/systemd/system/veilleur.service").starts_with("-rw-r--r--"));
    assert!(entry("/etc/veilleur/veilleur.toml").starts_with("-rw-r-----"));
    entry("/etc/veilleur/rules/acme.toml");
    entry("/usr/share/doc/veilleur/copyright");
    entry("/usr/share/doc/veilleur/prometheus/veilleur-alerts.yml");
    entry("/usr/share/doc/veilleur/grafana/veilleur-dashboard.json");

    // The control part: maintainer scripts, conffiles, the dependency on
    // adduser (postinst creates the user).
    let ctl = tempfile::tempdir().unwrap();
    assert!(succeeds(
        Command::new("dpkg-deb").arg("-e").arg(&deb).arg(ctl.path())
    ));
    let read = |f: &str| std::fs::read_to_string(ctl.path().join(f)).unwrap_or_default();
    assert!(read("conffiles").contains("/etc/veilleur/veilleur.toml"));
    assert!(read("control").contains("adduser"), "{}", read("control"));
    let postinst = read("postinst");
    assert!(postinst.contains("adduser --system"), "{postinst}");
    assert!(
        !postinst.contains("enable --now") || postinst.contains("echo"),
        "postinst starts nothing unconfigured"
    );
    assert!(!postinst.contains("systemctl start"), "{postinst}");

    // Stripped: no symbol table left in the binary.
    let data = tempfile::tempdir().unwrap();
    assert!(succeeds(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(data.path())
    ));
    let bin = data.path().join("usr/bin/veilleur");
    let size = std::fs::metadata(&bin).unwrap().len();
    println!("binary: {size} bytes");
    if succeeds(Command::new("readelf").arg("--version")) {
        let sections = Command::new("readelf")
            .args(["-S", "-W"])
            .arg(&bin)
            .output()
            .unwrap();
        let sections = String::from_utf8_lossy(&sections.stdout);
        assert!(!sections.contains(".symtab"), "the binary is stripped");
        assert!(!sections.contains(".debug_info"), "without debug info");
    }
    // Release: 22 MB stripped (2026-12); the dev build, unoptimised,
    // 57 MB stripped: its bound only catches a runaway.
    let limit_mb = if profile == "release" { 60 } else { 150 };
    assert!(size < limit_mb * 1024 * 1024, "{size} bytes ({profile})");
}

/// The container engine that answers, if any.
fn container_engine() -> Option<&'static str> {
    ["docker", "podman"].into_iter().find(|e| {
        succeeds(Command::new(e).args(["version", "--format", "{{.Server.Version}}"]))
            || (*e == "podman" && succeeds(Command::new(e).arg("info")))
    })
}

#[test]
#[ignore = "builds a release binary in a container (minutes): .ci/run runs it with --ignored"]
fn dockerfile_builds_an_image_that_runs_as_a_non_root_user() {
    let Some(engine) = container_engine() else {
        println!("SKIPPED: no running docker or podman engine: the Dockerfile was not built");
        return;
    };
    let tag = "veilleur-test:latest";
    let out = Command::new(engine)
        .args(["build", "-t", tag, "."])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine} build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user = Command::new(engine)
        .args(["image", "inspect", "--format", "{{.Config.User}}", tag])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "veilleur");
    let check = Command::new(engine)
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/usr/bin/veilleur",
            tag,
            "--version",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&check.stdout).contains("veilleur"));
}
