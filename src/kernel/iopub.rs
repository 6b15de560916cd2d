use jupyter_protocol::{
    DisplayData, ExecuteResult, ExecutionCount, JupyterMessage, Media, StreamContent, Transient,
    UpdateDisplayData,
};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::display::{Bundle, OutputSink, StreamName};

/// A handle for queueing iopub messages.
#[derive(Clone)]
pub struct IopubSender(UnboundedSender<JupyterMessage>);

impl IopubSender {
    pub fn new(tx: UnboundedSender<JupyterMessage>) -> Self {
        Self(tx)
    }
    pub fn send(&self, msg: JupyterMessage) {
        // The receiver lives as long as the kernel; a send error means it is shutting down.
        let _ = self.0.send(msg);
    }
}

/// The sink for one execute request: outputs become iopub messages parented to it.
pub struct IopubSink {
    pub iopub: IopubSender,
    pub parent: JupyterMessage,
    pub execution_count: ExecutionCount,
}

pub fn media(bundle: &Bundle) -> Media {
    // Media's deserializer maps each MIME type to its typed variant (unknown ones kept as-is).
    serde_json::from_value(Value::Object(bundle.data.clone())).unwrap_or_default()
}

impl OutputSink for IopubSink {
    fn stream(&self, name: StreamName, text: &str) {
        let content = match name {
            StreamName::Stdout => StreamContent::stdout(text),
            StreamName::Stderr => StreamContent::stderr(text),
        };
        self.iopub.send(content.as_child_of(&self.parent));
    }

    fn display(&self, bundle: Bundle, display_id: Option<String>) {
        let msg = DisplayData {
            data: media(&bundle),
            metadata: bundle.metadata,
            transient: display_id.map(|id| Transient {
                display_id: Some(id),
            }),
        };
        self.iopub.send(msg.as_child_of(&self.parent));
    }

    fn update_display(&self, bundle: Bundle, display_id: &str) {
        let mut msg = UpdateDisplayData::new(media(&bundle), display_id);
        msg.metadata = bundle.metadata;
        self.iopub.send(msg.as_child_of(&self.parent));
    }

    fn execute_result(&self, bundle: Bundle) {
        let msg = ExecuteResult {
            execution_count: self.execution_count,
            data: media(&bundle),
            metadata: bundle.metadata,
            // An empty object, not null: the message schema requires one.
            transient: Some(Transient { display_id: None }),
        };
        self.iopub.send(msg.as_child_of(&self.parent));
    }
}

/// Outputs of `silent` requests are not broadcast.
pub struct SilentSink;

impl OutputSink for SilentSink {
    fn stream(&self, _: StreamName, _: &str) {}
    fn display(&self, _: Bundle, _: Option<String>) {}
    fn update_display(&self, _: Bundle, _: &str) {}
    fn execute_result(&self, _: Bundle) {}
}
