//! `scripts/llama-server.sh` decides whether the cached llama-server can be used or must be built
//! (about 8 minutes). Its check runs here against a fake cache, so the decision is tested without
//! building anything: the exact binary must exist, be executable and run `--version`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/llama-server.sh");
const VERSION: &str = "0.3.36";

fn binary_in(cache: &Path) -> PathBuf {
    cache.join(format!("llama-server-{VERSION}/bin/llama-server"))
}

fn run(cache: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(SCRIPT)
        .args(args)
        .env("ALIGNMENT_LAB_CACHE", cache)
        .env("LLAMA_CPP_PYTHON_VERSION", VERSION)
        // A build must never start in these tests: no pip to download the sources with.
        .env("PIP", "false")
        .output()
        .unwrap()
}

fn place(cache: &Path, script: &str, mode: u32) -> PathBuf {
    let binary = binary_in(cache);
    fs::create_dir_all(binary.parent().unwrap()).unwrap();
    fs::write(&binary, script).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(mode)).unwrap();
    binary
}

#[test]
fn an_empty_cache_needs_a_build() {
    let cache = tempfile::tempdir().unwrap();
    assert!(!run(cache.path(), &["--check"]).status.success());
    // Without --check the script would build; with no pip it fails instead of pretending.
    let out = run(cache.path(), &[]);
    assert!(!out.status.success());
    assert!(!binary_in(cache.path()).exists());
}

#[test]
fn a_working_cached_binary_is_used_as_it_is() {
    let cache = tempfile::tempdir().unwrap();
    let binary = place(
        cache.path(),
        "#!/bin/sh\n[ \"$1\" = --version ] && echo 'version: 1 (test)'\n",
        0o755,
    );
    assert!(run(cache.path(), &["--check"]).status.success());
    let out = run(cache.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        binary.to_str().unwrap()
    );
}

#[test]
fn a_broken_or_unrunnable_binary_is_not_trusted() {
    let cache = tempfile::tempdir().unwrap();
    // A truncated file that cannot start, and one that is not executable.
    place(cache.path(), "#!/bin/sh\nexit 127\n", 0o755);
    assert!(!run(cache.path(), &["--check"]).status.success());
    place(cache.path(), "#!/bin/sh\necho ok\n", 0o644);
    assert!(!run(cache.path(), &["--check"]).status.success());
}
