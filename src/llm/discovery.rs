//! Choosing a backend: an explicit URL, the first local server that answers, or the embedded
//! model — in that order for `auto`, as DESIGN.md specifies.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::config::CANDIDATE_SERVERS;
use super::embedded::{EmbeddedBackend, EmbeddedSettings};
use super::openai::{HttpSettings, OpenAiBackend};
use super::{BackendChoice, ChatBackend, LabConfig, LlmError};

/// A chosen backend and a sentence on why it was chosen.
pub struct Resolved {
    pub backend: Arc<dyn ChatBackend>,
    pub reason: String,
}

/// How long a local server may take to answer `/models` during discovery.
const PROBE_TIMEOUT: Duration = Duration::from_millis(600);

pub async fn resolve(config: &LabConfig) -> Result<Resolved, LlmError> {
    match config.backend {
        BackendChoice::Embedded => load_embedded(config.embedded_model_path(), config)
            .await
            .map(|backend| Resolved {
                backend,
                reason: "embedded backend requested".into(),
            }),
        BackendChoice::OpenAi | BackendChoice::Auto if config.base_url.is_some() => {
            let url = config.base_url.clone().unwrap_or_default();
            Ok(Resolved {
                backend: Arc::new(openai_backend(config, &url, &server_label(&url))),
                reason: "ALIGNMENT_LAB_BASE_URL / :backend URL".into(),
            })
        }
        BackendChoice::OpenAi | BackendChoice::Auto => {
            if let Some((name, url)) = first_answering_server(config).await {
                return Ok(Resolved {
                    backend: Arc::new(openai_backend(config, url, name)),
                    reason: format!("{name} answered at {url}"),
                });
            }
            let tried = CANDIDATE_SERVERS
                .iter()
                .map(|(_, u)| *u)
                .collect::<Vec<_>>()
                .join(", ");
            if config.backend == BackendChoice::OpenAi {
                return Err(LlmError::Unreachable {
                    url: tried,
                    model: String::new(),
                    detail: "no OpenAI-compatible server answered".into(),
                });
            }
            match load_embedded(config.embedded_model_path(), config).await {
                Ok(backend) => Ok(Resolved {
                    backend,
                    reason: format!("no local server answered ({tried}); using the embedded model"),
                }),
                Err(e) => Err(LlmError::NoBackend {
                    tried,
                    embedded: e.to_string(),
                }),
            }
        }
    }
}

/// The client's time-outs, with the ones the environment overrides.
pub fn http_settings(config: &LabConfig) -> HttpSettings {
    let defaults = HttpSettings::default();
    HttpSettings {
        first_token_timeout: config
            .first_token_timeout
            .unwrap_or(defaults.first_token_timeout),
        idle_timeout: config.idle_timeout.unwrap_or(defaults.idle_timeout),
        ..defaults
    }
}

pub fn openai_backend(config: &LabConfig, url: &str, server: &str) -> OpenAiBackend {
    OpenAiBackend::new(
        url,
        server,
        config.api_key.clone(),
        config.model.clone(),
        config.parallel,
        http_settings(config),
    )
}

/// Load a GGUF off the async loop.
pub async fn load_embedded(
    path: PathBuf,
    config: &LabConfig,
) -> Result<Arc<dyn ChatBackend>, LlmError> {
    let settings = EmbeddedSettings::from_config(config);
    tokio::task::spawn_blocking(move || EmbeddedBackend::load(&path, settings))
        .await
        .map_err(|e| LlmError::Embedded(format!("model loading task failed: {e}")))?
        .map(|b| Arc::new(b) as Arc<dyn ChatBackend>)
}

/// Ask every candidate at once; take the first in priority order that answered.
async fn first_answering_server(config: &LabConfig) -> Option<(&'static str, &'static str)> {
    let client = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .ok()?;
    let probes = CANDIDATE_SERVERS.iter().map(|(name, url)| {
        let client = client.clone();
        let key = config.api_key.clone();
        async move {
            let mut rb = client.get(format!("{url}/models"));
            if let Some(k) = key {
                rb = rb.bearer_auth(k.expose());
            }
            let ok = rb.send().await.is_ok_and(|r| r.status().is_success());
            ok.then_some((*name, *url))
        }
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .next()
}

/// A label for a URL a student typed: the known default ports name their servers.
pub fn server_label(url: &str) -> String {
    CANDIDATE_SERVERS
        .iter()
        .find(|(_, u)| url.trim_end_matches('/') == *u)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| "OpenAI-compatible server".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(server_label("http://localhost:1234/v1"), "LM Studio");
        assert_eq!(
            server_label("http://10.0.0.1:9/v1"),
            "OpenAI-compatible server"
        );
    }
}
