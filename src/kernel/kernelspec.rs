//! Writing and removing the `alignment-lab` kernelspec.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

pub const KERNEL_NAME: &str = "alignment-lab";
pub const DISPLAY_NAME: &str = "Rust · Alignment Lab";

const LOGOS: [(&str, &[u8]); 3] = [
    (
        "logo-32x32.png",
        include_bytes!("../../kernel/logo-32x32.png"),
    ),
    (
        "logo-64x64.png",
        include_bytes!("../../kernel/logo-64x64.png"),
    ),
    ("logo-svg.svg", include_bytes!("../../kernel/logo-svg.svg")),
];

/// Where kernelspecs live: `--prefix DIR`, the user's data dir, or the system dir for root.
pub fn kernels_dir(user: bool, prefix: Option<&Path>) -> Result<PathBuf> {
    if let Some(prefix) = prefix {
        return Ok(prefix.join("share/jupyter/kernels"));
    }
    let is_root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::env::var("HOME").map(|h| h == "/root").unwrap_or(false);
    if user || !is_root {
        let data = std::env::var_os("JUPYTER_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("jupyter")))
            .context("cannot find the user's data directory")?;
        return Ok(data.join("kernels"));
    }
    Ok(PathBuf::from("/usr/local/share/jupyter/kernels"))
}

/// The kernel.json this binary needs: it launches itself with `kernel --connection-file`.
pub fn kernel_json(exe: &Path) -> serde_json::Value {
    json!({
        "argv": [exe.display().to_string(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    })
}

pub fn install(user: bool, prefix: Option<&Path>) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate this binary")?;
    let dir = kernels_dir(user, prefix)?.join(KERNEL_NAME);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let spec = serde_json::to_string_pretty(&kernel_json(&exe))?;
    std::fs::write(dir.join("kernel.json"), spec + "\n")
        .with_context(|| format!("cannot write {}", dir.join("kernel.json").display()))?;
    for (name, bytes) in LOGOS {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(dir)
}

pub fn uninstall(user: bool, prefix: Option<&Path>) -> Result<Option<PathBuf>> {
    let dir = kernels_dir(user, prefix)?.join(KERNEL_NAME);
    if !dir.exists() {
        return Ok(None);
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_and_uninstall_under_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let installed = install(false, Some(dir.path())).unwrap();
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(installed.join("kernel.json")).unwrap())
                .unwrap();
        assert_eq!(spec["interrupt_mode"], "message");
        assert_eq!(spec["language"], "rust");
        assert_eq!(spec["display_name"], DISPLAY_NAME);
        assert_eq!(spec["argv"][1], "kernel");
        assert!(installed.join("logo-64x64.png").exists());
        assert_eq!(
            uninstall(false, Some(dir.path())).unwrap(),
            Some(installed.clone())
        );
        assert!(!installed.exists());
    }
}
