//! What `make package` ships loads where Node 24 loads: every native binary needs no newer glibc
//! than Node's own Linux x64 binary (glibc 2.28: Debian 10, Ubuntu 20.04, RHEL 8), read from their
//! dynamic symbols' version references.

use openclaw_plugin_tests::*;
use std::path::Path;
use std::process::Command;

/// The newest `GLIBC_x.y[.z]` symbol version a binary needs, from `objdump -T`.
fn newest_glibc(binary: &Path) -> (u32, u32, u32) {
    let out = Command::new("objdump").arg("-T").arg(binary).output().expect("run objdump (binutils)");
    assert!(out.status.success(), "objdump -T {}: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let versions = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|word| word.strip_prefix("GLIBC_").map(dotted_version));
    versions.max().unwrap_or_else(|| panic!("{} references no GLIBC_ version", binary.display()))
}

#[test]
fn every_shipped_binary_needs_no_newer_glibc_than_node_24_itself() {
    let node =
        std::env::var_os("OPENCLAW_TEST_NODE").expect("OPENCLAW_TEST_NODE: the Node that `make gateway` installs");
    let node_needs = newest_glibc(Path::new(&node));
    assert_eq!(node_needs, (2, 28, 0), "Node 24's own binary needs glibc 2.28");
    let native = workspace_root().join("dist/openclaw-mlflow/native");
    let mut shipped: Vec<_> = std::fs::read_dir(&native)
        .unwrap_or_else(|e| panic!("{}: {e} (make package)", native.display()))
        .map(|e| e.unwrap().path())
        .collect();
    shipped.sort();
    let names: Vec<_> = shipped.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["libopenclaw_mlflow.so", "openclaw-mlflow-host.node"]);
    for binary in &shipped {
        let needs = newest_glibc(binary);
        assert!(
            needs <= node_needs,
            "{} needs GLIBC_{}.{}.{}, Node needs {node_needs:?}",
            binary.display(),
            needs.0,
            needs.1,
            needs.2
        );
    }
}
