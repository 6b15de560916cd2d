//! Finding the tools the kernel uses but does not ship: the Rust toolchain (only Rust cells need
//! it — every magic works without), Jupyter's nbconvert and a Chromium-based browser (for
//! `alignment-lab export`).

use std::path::{Path, PathBuf};

/// An executable on `path` (a PATH-style list), or beside this binary (a virtualenv's `bin`).
pub fn find_in(path: Option<&std::ffi::OsStr>, names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    for name in names {
        let candidate = Path::new(name);
        if candidate.is_absolute() {
            if candidate.is_file() {
                return Some(candidate.to_path_buf());
            }
            continue;
        }
        for dir in &dirs {
            for file in [dir.join(name), dir.join(format!("{name}.exe"))] {
                if file.is_file() {
                    return Some(file);
                }
            }
        }
    }
    None
}

/// [`find_in`] the process's PATH.
pub fn find_tool(names: &[&str]) -> Option<PathBuf> {
    find_in(std::env::var_os("PATH").as_deref(), names)
}

/// Why Rust cells cannot run here, when a tool evcxr starts is missing from `path`.
pub fn rust_toolchain_problem(path: Option<&std::ffi::OsStr>) -> Option<String> {
    let missing: Vec<&str> = ["cargo", "rustc"]
        .into_iter()
        .filter(|tool| find_in(path, &[tool]).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "Rust cells need a Rust toolchain, and {} {} not on PATH. Install it with rustup (https://rustup.rs: `curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh` on Linux and macOS, rustup-init.exe on Windows), then restart the kernel. The magics (:chat, :probe, :debate, :rlhf-challenge, :check, …) need none of it and work as they are.",
            missing.join(" and "),
            if missing.len() == 1 { "is" } else { "are" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_toolchain_is_named_and_explained() {
        let empty = std::env::temp_dir().join(format!("no-tools-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&empty).unwrap();
        let problem = rust_toolchain_problem(Some(empty.as_os_str())).unwrap();
        assert!(
            problem.contains("cargo and rustc are not on PATH"),
            "{problem}"
        );
        assert!(
            problem.contains("rustup") && problem.contains("magics"),
            "{problem}"
        );

        for tool in ["cargo", "rustc"] {
            std::fs::write(empty.join(tool), "").unwrap();
        }
        assert!(rust_toolchain_problem(Some(empty.as_os_str())).is_none());
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
