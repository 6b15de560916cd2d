//! The client crate every Rust cell has in scope (`cells/` in the repository): its source is
//! compiled into the kernel, written to the data dir on first use, and added to evcxr with
//! `:dep` before the first Rust cell runs. It depends on std alone, so evcxr builds it offline.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MANIFEST: &str = include_str!("../../cells/Cargo.toml");
const LIB: &str = include_str!("../../cells/src/lib.rs");

/// Write the crate under `home/cells/<hash of its source>/` (once per version) and return its
/// directory.
pub fn install(home: &Path) -> std::io::Result<PathBuf> {
    let hash = Sha256::digest(format!("{MANIFEST}{LIB}").as_bytes());
    let version: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let dir = home.join("cells").join(version);
    let lib = dir.join("src").join("lib.rs");
    if !lib.exists() {
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(dir.join("Cargo.toml"), MANIFEST)?;
        std::fs::write(&lib, LIB)?;
    }
    Ok(dir)
}

/// What evcxr runs before the first cell: offline builds, the crate, its names in scope.
pub fn prelude(dir: &Path) -> Vec<String> {
    let path = dir
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    vec![
        ":offline 1".into(),
        format!(":dep alignment_lab_cells = {{ path = \"{path}\" }}"),
        "use alignment_lab_cells::*;".into(),
    ]
}

#[cfg(test)]
mod tests {
    use crate::cells_client as cells;
    use crate::lab::course::{course_suite, COURSE_IDS};

    #[test]
    fn the_crates_question_table_is_the_course_list() {
        let theirs = cells::course_questions();
        let ours = course_suite();
        assert_eq!(theirs.len(), ours.len());
        for ((q, id), mine) in theirs.iter().zip(COURSE_IDS).zip(&ours) {
            assert_eq!(q.id, id);
            assert_eq!(q.text, mine.text);
            assert_eq!(q.reference, mine.reference.as_ref().unwrap().describe());
        }
    }

    #[test]
    fn installs_once_per_version() {
        let home = tempfile::tempdir().unwrap();
        let a = super::install(home.path()).unwrap();
        let b = super::install(home.path()).unwrap();
        assert_eq!(a, b);
        assert!(a.join("src/lib.rs").exists());
        let prelude = super::prelude(&a);
        assert!(prelude[1].contains(&a.display().to_string()));
    }
}
