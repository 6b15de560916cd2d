//! The backend Rust cells get while a grader runs the notebook: answers come from the results
//! file the student's run wrote, never from a model.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::engine::ResultsStore;
use crate::llm::{
    BackendInfo, ChatBackend, ChatRequest, ChatResponse, LlmError, ModelInfo, TokenSink,
};

pub(super) struct Recorded(pub Arc<ResultsStore>);

impl Recorded {
    fn mode(&self) -> String {
        self.0.grader_mode().unwrap_or("grader").to_string()
    }
}

#[async_trait]
impl ChatBackend for Recorded {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "replay".into(),
            endpoint: self.0.path().display().to_string(),
            server: format!(
                "answers recorded by the student's run (NBGRADER_EXECUTION={})",
                self.mode()
            ),
        }
    }

    fn max_parallel(&self) -> usize {
        4
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(Vec::new())
    }

    async fn default_model(&self) -> Result<String, LlmError> {
        Err(LlmError::NotRecorded { mode: self.mode() })
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        on_token: TokenSink<'_>,
        _cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        let response = self
            .0
            .recorded_call(request)
            .ok_or_else(|| LlmError::NotRecorded { mode: self.mode() })?;
        on_token(&response.text);
        Ok(response)
    }
}
