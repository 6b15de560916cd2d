//! The Jupyter side: sockets, the message loop, execution counts, interrupts and the iopub sink.
//! It knows cells and outputs, not models: everything model-related happens behind the engine.

mod iopub;
pub mod kernelspec;
mod replies;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use jupyter_protocol::{
    ConnectionInfo, IoPubWelcome, JupyterMessage, JupyterMessageContent, Status,
};
use jupyter_zmq_client::{
    create_kernel_control_connection, create_kernel_heartbeat_connection,
    create_kernel_iopub_xpub_connection, create_kernel_shell_connection,
    create_kernel_stdin_connection, RuntimeError, SubscriptionEvent,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::llm::LabConfig;
use iopub::IopubSender;

/// After a failed cell, how long to keep looking for requests queued behind it. Run All sends
/// every request at once, so they are all queued well within this.
const ABORT_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// Run the kernel until a shutdown request arrives.
pub async fn run(connection_file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(connection_file)
        .with_context(|| format!("cannot read connection file {}", connection_file.display()))?;
    let info: ConnectionInfo = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a Jupyter connection file",
            connection_file.display()
        )
    })?;
    if !info.signature_scheme.is_empty() && info.signature_scheme != "hmac-sha256" {
        anyhow::bail!(
            "signature scheme {:?} is not supported (only hmac-sha256)",
            info.signature_scheme
        );
    }
    let config = LabConfig::from_env().map_err(anyhow::Error::msg)?;
    let session_id = uuid::Uuid::new_v4().to_string();

    // Sockets bind to the address in the connection file and nowhere else.
    let mut heartbeat = create_kernel_heartbeat_connection(&info).await?;
    let shell = create_kernel_shell_connection(&info, &session_id).await?;
    let (mut shell_tx, mut shell_rx) = shell.split();
    let mut control = create_kernel_control_connection(&info, &session_id).await?;
    let _stdin = create_kernel_stdin_connection(&info, &session_id).await?;
    let mut iopub_socket = create_kernel_iopub_xpub_connection(&info, &session_id).await?;

    // All iopub traffic goes through one queue, so its order is the order it was produced in.
    let (iopub_tx, mut iopub_rx) = mpsc::unbounded_channel::<JupyterMessage>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = iopub_rx.recv() => match msg {
                    Some(msg) => {
                        if let Err(e) = iopub_socket.send(msg).await {
                            tracing::warn!("iopub send failed: {e}");
                        }
                    }
                    None => break,
                },
                sub = iopub_socket.recv_subscription() => {
                    if let Ok(SubscriptionEvent::Subscribe(topic)) = sub {
                        let _ = iopub_socket.send(IoPubWelcome::new(topic).into()).await;
                    }
                }
            }
        }
    });
    tokio::spawn(async move { while heartbeat.single_heartbeat().await.is_ok() {} });

    let iopub = IopubSender::new(iopub_tx);
    // The token of the cell running now; an interrupt cancels it.
    let running: Arc<Mutex<CancellationToken>> = Arc::new(Mutex::new(CancellationToken::new()));
    let shutdown = CancellationToken::new();

    let control_task = {
        let running = running.clone();
        let shutdown = shutdown.clone();
        let iopub = iopub.clone();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    m = control.read() => m,
                    _ = shutdown.cancelled() => break,
                };
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) if is_fatal(&e) => {
                        tracing::error!("control socket failed: {e}");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("dropped a control message: {}", why_dropped(&e));
                        continue;
                    }
                };
                let reply = match &msg.content {
                    JupyterMessageContent::InterruptRequest(_) => {
                        running.lock().expect("running lock").cancel();
                        Some(replies::interrupt(&msg))
                    }
                    JupyterMessageContent::KernelInfoRequest(_) => {
                        iopub.send(Status::busy().as_child_of(&msg));
                        let r = replies::kernel_info(&msg);
                        let _ = control.send(r).await;
                        iopub.send(Status::idle().as_child_of(&msg));
                        None
                    }
                    JupyterMessageContent::ShutdownRequest(req) => {
                        running.lock().expect("running lock").cancel();
                        let _ = control.send(replies::shutdown(&msg, req.restart)).await;
                        shutdown.cancel();
                        break;
                    }
                    other => {
                        tracing::warn!("control: ignoring a {} (no handler)", other.message_type());
                        None
                    }
                };
                if let Some(r) = reply {
                    let _ = control.send(r).await;
                }
            }
        })
    };

    let mut engine = Engine::new(config);
    let mut execution_count = 0usize;
    // When a cell failed or was interrupted with `stop_on_error`: the time it ended. Execute
    // requests sent before then and still queued (Run All) are answered `aborted`, as Jupyter
    // expects; one sent after it (the student runs a cell again) runs.
    let mut aborting: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let msg = tokio::select! {
            m = shell_rx.read() => m,
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(ABORT_WINDOW), if aborting.is_some() => {
                aborting = None;
                continue;
            }
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) if is_fatal(&e) => {
                tracing::error!("shell socket failed: {e}");
                break;
            }
            Err(e) => {
                // Bad signatures, truncated frames and unparsable content are never executed.
                tracing::warn!("dropped a shell message: {}", why_dropped(&e));
                continue;
            }
        };
        iopub.send(Status::busy().as_child_of(&msg));
        let reply = match &msg.content {
            JupyterMessageContent::ExecuteRequest(_)
                if aborting.is_some_and(|failed_at| msg.header.date <= failed_at) =>
            {
                Some(replies::aborted(&msg, execution_count))
            }
            JupyterMessageContent::ExecuteRequest(req) => {
                let cancel = CancellationToken::new();
                *running.lock().expect("running lock") = cancel.clone();
                let r =
                    replies::execute(&mut engine, &iopub, &msg, req, &mut execution_count, cancel)
                        .await;
                aborting = (req.stop_on_error && replies::failed(&r)).then(chrono::Utc::now);
                Some(r)
            }
            JupyterMessageContent::KernelInfoRequest(_) => Some(replies::kernel_info(&msg)),
            JupyterMessageContent::CompleteRequest(req) => {
                Some(replies::complete(&engine, &msg, req).await)
            }
            JupyterMessageContent::InspectRequest(req) => {
                Some(replies::inspect(&engine, &msg, req))
            }
            JupyterMessageContent::IsCompleteRequest(req) => Some(replies::is_complete(&msg, req)),
            JupyterMessageContent::HistoryRequest(_) => Some(replies::history(&msg)),
            JupyterMessageContent::CommInfoRequest(_) => Some(replies::comm_info(&msg)),
            JupyterMessageContent::ShutdownRequest(req) => {
                let _ = shell_tx.send(replies::shutdown(&msg, req.restart)).await;
                iopub.send(Status::idle().as_child_of(&msg));
                shutdown.cancel();
                break;
            }
            other => {
                tracing::warn!("shell: ignoring a {} (no handler)", other.message_type());
                None
            }
        };
        if let Some(r) = reply {
            if let Err(e) = shell_tx.send(r).await {
                tracing::warn!("shell reply failed: {e}");
            }
        }
        iopub.send(Status::idle().as_child_of(&msg));
    }
    shutdown.cancel();
    let _ = control_task.await;
    // Give the iopub queue a moment to flush the final idle status.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Ok(())
}

/// A socket error (as opposed to one bad message) ends the loop.
/// The log line for a message that is not executed. The library's own text for a failed HMAC
/// check is just "Unspecified".
fn why_dropped(e: &RuntimeError) -> String {
    match e {
        RuntimeError::VerifyError(_) => "bad signature (HMAC check failed)".to_string(),
        other => other.to_string(),
    }
}

fn is_fatal(e: &RuntimeError) -> bool {
    matches!(e, RuntimeError::ZmqError(_) | RuntimeError::IoError(_))
}
