//! Shell and control replies, each built as a child of its request.

use std::sync::Arc;

use jupyter_protocol::{
    CodeMirrorMode, CommInfoReply, CompleteReply, CompleteRequest, ErrorOutput, ExecuteInput,
    ExecuteReply, ExecuteRequest, ExecutionCount, HelpLink, HistoryReply, InspectReply,
    InspectRequest, InterruptReply, IsCompleteReply, IsCompleteReplyStatus, IsCompleteRequest,
    JupyterMessage, KernelInfoReply, LanguageInfo, ReplyError, ReplyStatus, ShutdownReply,
};
use tokio_util::sync::CancellationToken;

use super::iopub::{media, IopubSender, IopubSink, SilentSink};
use crate::display::OutputSink;
use crate::engine::{Completeness, Engine};

pub fn kernel_info(parent: &JupyterMessage) -> JupyterMessage {
    KernelInfoReply {
        status: ReplyStatus::Ok,
        protocol_version: "5.3".into(),
        implementation: "alignment-lab".into(),
        implementation_version: env!("CARGO_PKG_VERSION").into(),
        language_info: LanguageInfo {
            name: "rust".into(),
            version: "2021".into(),
            mimetype: Some("text/rust".into()),
            file_extension: Some(".rs".into()),
            pygments_lexer: Some("rust".into()),
            codemirror_mode: Some(CodeMirrorMode::Simple("rust".into())),
            nbconvert_exporter: None,
        },
        banner: format!(
            "Alignment Lab {} — Rust (evcxr) with :probe, :debate, :rlhf-challenge and :chat magics. Type :help.",
            env!("CARGO_PKG_VERSION")
        ),
        help_links: vec![HelpLink {
            text: "evcxr".into(),
            url: "https://github.com/evcxr/evcxr".into(),
        }],
        debugger: false,
        error: None,
    }
    .as_child_of(parent)
}

pub async fn execute(
    engine: &mut Engine,
    iopub: &IopubSender,
    parent: &JupyterMessage,
    req: &ExecuteRequest,
    execution_count: &mut usize,
    cancel: CancellationToken,
) -> JupyterMessage {
    // The count moves only for requests that enter the history.
    if req.store_history && !req.silent {
        *execution_count += 1;
    }
    let count = ExecutionCount::new(*execution_count);
    let sink: Arc<dyn OutputSink> = if req.silent {
        Arc::new(SilentSink)
    } else {
        iopub.send(
            ExecuteInput {
                code: req.code.clone(),
                execution_count: count,
            }
            .as_child_of(parent),
        );
        Arc::new(IopubSink {
            iopub: iopub.clone(),
            parent: parent.clone(),
            execution_count: count,
        })
    };
    match engine.execute(&req.code, sink, cancel).await {
        Ok(()) => ExecuteReply {
            status: ReplyStatus::Ok,
            execution_count: count,
            payload: vec![],
            user_expressions: Some(Default::default()),
            error: None,
        }
        .as_child_of(parent),
        Err(e) => {
            if !req.silent {
                iopub.send(
                    ErrorOutput {
                        ename: e.ename.clone(),
                        evalue: e.evalue.clone(),
                        traceback: e.traceback.clone(),
                    }
                    .as_child_of(parent),
                );
            }
            ExecuteReply {
                status: ReplyStatus::Error,
                execution_count: count,
                payload: vec![],
                user_expressions: Some(Default::default()),
                error: Some(Box::new(ReplyError {
                    ename: e.ename,
                    evalue: e.evalue,
                    traceback: e.traceback,
                })),
            }
            .as_child_of(parent)
        }
    }
}

/// The reply to an execute request queued behind a failed or interrupted cell: not run.
pub fn aborted(parent: &JupyterMessage, execution_count: usize) -> JupyterMessage {
    ExecuteReply {
        status: ReplyStatus::Aborted,
        execution_count: ExecutionCount::new(execution_count),
        payload: vec![],
        user_expressions: None,
        error: None,
    }
    .as_child_of(parent)
}

/// Whether an execute reply reports a failure (an error or an interrupt).
pub fn failed(reply: &JupyterMessage) -> bool {
    matches!(
        &reply.content,
        jupyter_protocol::JupyterMessageContent::ExecuteReply(r) if r.status == ReplyStatus::Error
    )
}

/// Jupyter counts `cursor_pos` in unicode code points; Rust strings index bytes.
fn byte_offset(code: &str, cursor_chars: usize) -> usize {
    code.char_indices()
        .nth(cursor_chars)
        .map(|(i, _)| i)
        .unwrap_or(code.len())
}

fn char_offset(code: &str, byte: usize) -> usize {
    code.get(..byte).map(|s| s.chars().count()).unwrap_or(0)
}

pub async fn complete(
    engine: &Engine,
    parent: &JupyterMessage,
    req: &CompleteRequest,
) -> JupyterMessage {
    let cursor = byte_offset(&req.code, req.cursor_pos);
    let (matches, start, end) = engine.complete(&req.code, cursor).await;
    CompleteReply {
        matches,
        cursor_start: char_offset(&req.code, start),
        cursor_end: char_offset(&req.code, end),
        metadata: Default::default(),
        status: ReplyStatus::Ok,
        error: None,
    }
    .as_child_of(parent)
}

pub fn inspect(engine: &Engine, parent: &JupyterMessage, req: &InspectRequest) -> JupyterMessage {
    let found = engine.inspect(&req.code);
    InspectReply {
        found: found.is_some(),
        data: found.as_ref().map(media).unwrap_or_default(),
        metadata: Default::default(),
        status: ReplyStatus::Ok,
        error: None,
    }
    .as_child_of(parent)
}

pub fn is_complete(parent: &JupyterMessage, req: &IsCompleteRequest) -> JupyterMessage {
    match Engine::is_complete(&req.code) {
        Completeness::Complete => {
            IsCompleteReply::new(IsCompleteReplyStatus::Complete, String::new())
        }
        Completeness::Incomplete => {
            IsCompleteReply::new(IsCompleteReplyStatus::Incomplete, "    ".into())
        }
    }
    .as_child_of(parent)
}

pub fn history(parent: &JupyterMessage) -> JupyterMessage {
    HistoryReply {
        history: vec![],
        status: ReplyStatus::Ok,
        error: None,
    }
    .as_child_of(parent)
}

pub fn comm_info(parent: &JupyterMessage) -> JupyterMessage {
    CommInfoReply {
        status: ReplyStatus::Ok,
        comms: Default::default(),
        error: None,
    }
    .as_child_of(parent)
}

pub fn shutdown(parent: &JupyterMessage, restart: bool) -> JupyterMessage {
    ShutdownReply {
        restart,
        status: ReplyStatus::Ok,
        error: None,
    }
    .as_child_of(parent)
}

pub fn interrupt(parent: &JupyterMessage) -> JupyterMessage {
    InterruptReply::new().as_child_of(parent)
}
