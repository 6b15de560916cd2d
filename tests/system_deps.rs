//! `scripts/system-deps.sh` decides which apt packages a build needs. Its checks run here against
//! a fake root and a fake PATH, so the decision is tested without uninstalling anything: a
//! machine holding only `libclang-cpp.so.14` (Debian's libclang-cpp14, the C++ interface bindgen
//! cannot load) must get libclang-dev; one with the C library and clang's headers must not.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/system-deps.sh");

/// A fake machine: `root/` for files, `bin/` with stand-ins for the tools that are present.
struct FakeMachine {
    dir: tempfile::TempDir,
}

impl FakeMachine {
    /// Every build tool on PATH, no libclang anywhere.
    fn with_tools() -> Self {
        let machine = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(machine.root()).unwrap();
        fs::create_dir_all(machine.bin()).unwrap();
        for tool in ["cc", "c++", "make", "cmake", "python3", "pandoc"] {
            machine.add_tool(tool);
        }
        machine
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn add_tool(&self, name: &str) {
        let path = self.bin().join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn remove_tool(&self, name: &str) {
        fs::remove_file(self.bin().join(name)).unwrap();
    }

    /// Creates an empty file at `path` under the fake root.
    fn add_file(&self, path: &str) {
        let full = self.root().join(path.trim_start_matches('/'));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, b"").unwrap();
    }

    /// What the script would install, with `extra` packages requested and `env` set.
    fn missing(&self, extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let output = Command::new(bash())
            .arg(SCRIPT)
            .arg("--print-missing")
            .args(extra)
            .env_clear()
            .env("PATH", self.bin())
            .env("SYSTEM_DEPS_ROOT", self.root())
            .envs(env.iter().copied())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "system-deps.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn bash() -> &'static Path {
    ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("bash is installed")
}

const HEADER: &str = "/usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h";

#[test]
fn only_libclang_cpp_means_libclang_dev_is_needed() {
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang-cpp.so.14");
    machine.add_file("/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14");
    machine.add_file(HEADER);
    assert_eq!(machine.missing(&[], &[]), ["libclang-dev"]);
}

#[test]
fn versioned_libclang_with_headers_is_enough() {
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang-cpp.so.14");
    machine.add_file("/usr/lib/llvm-14/lib/libclang.so.1");
    machine.add_file(HEADER);
    assert!(machine.missing(&[], &[]).is_empty());
}

#[test]
fn each_name_clang_sys_loads_counts() {
    for lib in [
        "/usr/lib/llvm-16/lib/libclang.so",
        "/usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "/usr/lib/libclang-15.so",
        "/usr/local/lib/libclang.so.17",
    ] {
        let machine = FakeMachine::with_tools();
        machine.add_file(lib);
        machine.add_file(HEADER);
        assert!(machine.missing(&[], &[]).is_empty(), "{lib} not recognised");
    }
}

#[test]
fn libclang_without_clang_headers_is_not_enough() {
    // libclang1-14 alone: bindgen loads it, then fails on llama.h's `#include <stddef.h>`.
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang.so.1");
    assert_eq!(machine.missing(&[], &[]), ["libclang-dev"]);
}

#[test]
fn libclang_path_is_the_only_place_searched_when_set() {
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang.so.1");
    machine.add_file(HEADER);
    machine.add_file("/opt/llvm/lib/libclang-cpp.so.18");
    // As clang-sys does: LIBCLANG_PATH set means nothing else is searched.
    let env = [("LIBCLANG_PATH", "/opt/llvm/lib")];
    assert_eq!(machine.missing(&[], &env), ["libclang-dev"]);
    machine.add_file("/opt/llvm/lib/libclang.so.18");
    assert!(machine.missing(&[], &env).is_empty());
    // The library file itself is accepted too.
    let env = [("LIBCLANG_PATH", "/opt/llvm/lib/libclang.so.18")];
    assert!(machine.missing(&[], &env).is_empty());
}

#[test]
fn missing_tools_name_their_packages() {
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang.so.1");
    machine.add_file(HEADER);
    machine.remove_tool("cmake");
    machine.remove_tool("c++");
    assert_eq!(machine.missing(&[], &[]), ["g++", "cmake"]);
}

#[test]
fn chromium_is_checked_by_the_binary_the_browser_test_runs() {
    let machine = FakeMachine::with_tools();
    machine.add_file("/usr/lib/llvm-14/lib/libclang.so.1");
    machine.add_file(HEADER);
    assert_eq!(machine.missing(&["chromium", "pandoc"], &[]), ["chromium"]);
    machine.add_file("/usr/bin/chromium");
    let chromium = machine.root().join("usr/bin/chromium");
    fs::set_permissions(&chromium, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(machine.missing(&["chromium", "pandoc"], &[]).is_empty());
}
