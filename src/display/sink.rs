use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Bundle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamName {
    Stdout,
    Stderr,
}

/// Where a cell's outputs go. The kernel turns these into iopub messages, `alignment-lab run`
/// into notebook outputs, tests into a list they can inspect: one code path for all three.
pub trait OutputSink: Send + Sync {
    fn stream(&self, name: StreamName, text: &str);
    fn display(&self, bundle: Bundle, display_id: Option<String>);
    fn update_display(&self, bundle: Bundle, display_id: &str);
    fn execute_result(&self, bundle: Bundle);
}

/// A live output that is redrawn as work progresses.
///
/// Updates are throttled (a few per second) so a fast token stream does not flood the
/// frontend; [`Progress::finish`] always goes out, and it is what a saved notebook keeps.
pub struct Progress {
    sink: Arc<dyn OutputSink>,
    display_id: String,
    last_sent: Mutex<Instant>,
    min_interval: Duration,
}

impl Progress {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

    pub fn start(sink: Arc<dyn OutputSink>, first: Bundle) -> Self {
        let display_id = format!("alignment-lab-{}", uuid::Uuid::new_v4());
        sink.display(first, Some(display_id.clone()));
        Self {
            sink,
            display_id,
            last_sent: Mutex::new(Instant::now()),
            min_interval: Self::DEFAULT_INTERVAL,
        }
    }

    pub fn display_id(&self) -> &str {
        &self.display_id
    }

    /// Redraw unless the last redraw was less than the throttle interval ago.
    /// Returns whether the update was sent.
    pub fn update(&self, bundle: impl FnOnce() -> Bundle) -> bool {
        let mut last = self.last_sent.lock().expect("progress lock");
        if last.elapsed() < self.min_interval {
            return false;
        }
        *last = Instant::now();
        drop(last);
        self.sink.update_display(bundle(), &self.display_id);
        true
    }

    /// The final state of the output, sent unconditionally.
    pub fn finish(&self, bundle: Bundle) {
        self.sink.update_display(bundle, &self.display_id);
    }
}

/// One recorded output event.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkEvent {
    Stream(StreamName, String),
    Display(Bundle, Option<String>),
    Update(Bundle, String),
    Result(Bundle),
}

/// A sink that keeps everything it is given, in order.
#[derive(Default)]
pub struct CollectingSink {
    events: Mutex<Vec<SinkEvent>>,
}

impl CollectingSink {
    pub fn take(&self) -> Vec<SinkEvent> {
        std::mem::take(&mut *self.events.lock().expect("sink lock"))
    }

    fn push(&self, event: SinkEvent) {
        self.events.lock().expect("sink lock").push(event);
    }
}

impl OutputSink for CollectingSink {
    fn stream(&self, name: StreamName, text: &str) {
        self.push(SinkEvent::Stream(name, text.to_string()));
    }
    fn display(&self, bundle: Bundle, display_id: Option<String>) {
        self.push(SinkEvent::Display(bundle, display_id));
    }
    fn update_display(&self, bundle: Bundle, display_id: &str) {
        self.push(SinkEvent::Update(bundle, display_id.to_string()));
    }
    fn execute_result(&self, bundle: Bundle) {
        self.push(SinkEvent::Result(bundle));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_throttles_but_always_finishes() {
        let sink = Arc::new(CollectingSink::default());
        let progress = Progress::start(sink.clone(), Bundle::plain("0"));
        let mut sent = 0;
        for i in 0..100 {
            if progress.update(|| Bundle::plain(i.to_string())) {
                sent += 1;
            }
        }
        // All hundred updates fall inside one throttle window.
        assert_eq!(sent, 0);
        let id = progress.display_id().to_string();
        progress.finish(Bundle::plain("done"));
        let events = sink.take();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1], SinkEvent::Update(Bundle::plain("done"), id));
    }
}
