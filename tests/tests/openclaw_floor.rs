//! The package's OpenClaw floor is enforced by OpenClaw itself: a release below it refuses the
//! install with its own message, naming the floor (`openclaw.install.minHostVersion` in
//! package.json). `make test` installs that older release (`OPENCLAW_BELOW_FLOOR_BIN`).

use openclaw_plugin_tests::openclaw::{OpenClaw, Package};
use std::path::PathBuf;

#[test]
fn a_release_below_the_floor_refuses_the_install_naming_the_floor() {
    let below = std::env::var_os("OPENCLAW_BELOW_FLOOR_BIN")
        .map(PathBuf::from)
        .expect("OPENCLAW_BELOW_FLOOR_BIN: the OpenClaw below the floor that `make test` installs");
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(openclaw_plugin_tests::workspace_root().join("package/package.json")).unwrap(),
    )
    .unwrap();
    let floor = package["openclaw"]["install"]["minHostVersion"].as_str().expect("a declared floor");
    let oc = OpenClaw::fresh_release(below);
    let (year, month, patch) = oc.release();
    let host = format!("{year}.{month}.{patch}");
    let ran = oc.try_install_package(Package::Folder);
    assert!(!ran.status.success(), "{host} installed a package whose floor is {floor}:\n{}", ran.output);
    assert!(
        ran.output.contains(&format!("requires OpenClaw {floor}, but this host is {host}")),
        "OpenClaw's own refusal, naming the floor:\n{}",
        ran.output
    );
    assert!(!oc.state_dir.join("extensions/mlflow").exists(), "nothing was left installed");
}
