use serde_json::{Map, Value};

/// One output: a map of MIME type → content, plus metadata.
///
/// Every bundle carries `text/plain` so that consumers that understand nothing else
/// (terminals, nbconvert's LaTeX path) still show something meaningful.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl Bundle {
    pub fn plain(text: impl Into<String>) -> Self {
        Self::default().with("text/plain", text.into())
    }

    /// Markdown with a plain-text fallback (the markdown source itself reads fine as text).
    pub fn markdown(md: impl Into<String>) -> Self {
        let md = md.into();
        Self::default()
            .with("text/plain", md.clone())
            .with("text/markdown", md)
    }

    pub fn with(mut self, mime: &str, content: impl Into<Value>) -> Self {
        self.data.insert(mime.to_string(), content.into());
        self
    }

    /// Attach the structured record every magic leaves in `metadata["alignment_lab"]`.
    /// It names the kernel version, so a lecturer can tell which release produced a result.
    pub fn with_record(mut self, mut record: Value) -> Self {
        if let Some(fields) = record.as_object_mut() {
            fields
                .entry("kernel_version")
                .or_insert_with(|| Value::String(env!("CARGO_PKG_VERSION").to_string()));
        }
        self.metadata.insert("alignment_lab".to_string(), record);
        self
    }

    /// The content of one textual MIME type, if present.
    pub fn text(&self, mime: &str) -> Option<&str> {
        self.data.get(mime).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_bundle_has_plain_fallback() {
        let b = Bundle::markdown("**hi**");
        assert_eq!(b.text("text/plain"), Some("**hi**"));
        assert_eq!(b.text("text/markdown"), Some("**hi**"));
    }

    #[test]
    fn record_goes_into_metadata() {
        let b = Bundle::plain("x").with_record(serde_json::json!({"kind": "chat"}));
        assert_eq!(b.metadata["alignment_lab"]["kind"], "chat");
    }
}
