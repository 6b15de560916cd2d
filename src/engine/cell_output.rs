//! What a Rust cell prints, on its way to the notebook. evcxr hands over the child's output one
//! line at a time; sent as it comes, a loop printing 100,000 lines would be 100,000 iopub
//! messages and a notebook of megabytes. Here lines are gathered into a few messages (at most
//! every `FLUSH_EVERY`, or sooner once `FLUSH_BYTES` wait), and a cell keeps its first
//! `CELL_LIMIT_BYTES` of output; what it printed beyond that is counted and reported in one note
//! when the cell ends. No crate does this for evcxr's channels, hence this small module.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{never, select, unbounded, Receiver, Sender};

use crate::display::{Bundle, OutputSink, StreamName};

/// Longest a printed line waits before it is sent.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Buffered output that is sent at once, without waiting.
const FLUSH_BYTES: usize = 64 * 1024;

/// How much of one cell's output the notebook keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cell_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cell_bytes: 256 * 1024,
        }
    }
}

enum Control {
    /// A cell starts: its output goes to this sink.
    Begin(Arc<dyn OutputSink>),
    /// The cell ended: send what is buffered, say what was left out, then answer with how the
    /// cell failed, if it did.
    End(Sender<Option<Failure>>),
}

/// Forwards evcxr's stdout and stderr lines to the running cell, gathered and capped.
pub struct CellOutput {
    control: Sender<Control>,
}

impl CellOutput {
    pub fn start(stdout: Receiver<String>, stderr: Receiver<String>, limits: Limits) -> Self {
        let (control, control_rx) = unbounded();
        std::thread::Builder::new()
            .name("evcxr-output".into())
            .spawn(move || forward(stdout, stderr, control_rx, limits))
            .expect("spawning the output thread");
        Self { control }
    }

    pub fn begin(&self, sink: Arc<dyn OutputSink>) {
        let _ = self.control.send(Control::Begin(sink));
    }

    /// Flush the cell's output and wait until it is sent (bounded: the thread never blocks).
    /// Returns how the cell failed when its code panicked or returned a model call's error
    /// with `?`: evcxr reports success for both, so its stderr is where a failed cell shows.
    pub fn end(&self) -> Option<Failure> {
        let (ack, done) = unbounded();
        if self.control.send(Control::End(ack)).is_ok() {
            return done.recv_timeout(Duration::from_secs(5)).ok().flatten();
        }
        None
    }
}

/// How a cell failed that evcxr reported as a success.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub ename: &'static str,
    pub evalue: String,
}

impl Failure {
    fn panic(message: &str) -> Self {
        Self {
            ename: "Panic",
            evalue: format!("the cell panicked: {message}"),
        }
    }
}

/// One cell's output on its way: buffered text per stream, and what the cap left out.
struct Pending {
    sink: Option<Arc<dyn OutputSink>>,
    limits: Limits,
    stdout: String,
    stderr: String,
    /// When the oldest unsent line arrived.
    oldest: Option<Instant>,
    /// Bytes of this cell's output sent or buffered.
    kept: usize,
    dropped_lines: usize,
    dropped_bytes: usize,
    /// How the cell's code failed, read from its stderr.
    failure: Option<Failure>,
    /// Inside the stack backtrace that follows a panic (evcxr runs the child with
    /// RUST_BACKTRACE=1; its frames are evcxr's runner, not the student's code).
    in_backtrace: bool,
    /// The next stderr line is the panic's message.
    panic_message_next: bool,
}

impl Pending {
    fn new(sink: Option<Arc<dyn OutputSink>>, limits: Limits) -> Self {
        Self {
            sink,
            limits,
            stdout: String::new(),
            stderr: String::new(),
            oldest: None,
            kept: 0,
            dropped_lines: 0,
            dropped_bytes: 0,
            failure: None,
            in_backtrace: false,
            panic_message_next: false,
        }
    }

    fn push(&mut self, name: StreamName, line: String) {
        if self.sink.is_none() {
            // Output between cells (a background thread of an earlier cell) goes to the log.
            tracing::debug!("evcxr {name:?} between cells: {line}");
            return;
        }
        if name == StreamName::Stderr && !self.read_stderr(&line) {
            return;
        }
        let bytes = line.len() + 1;
        if self.kept + bytes > self.limits.cell_bytes {
            self.dropped_lines += 1;
            self.dropped_bytes += bytes;
            return;
        }
        self.kept += bytes;
        let buffer = match name {
            StreamName::Stdout => &mut self.stdout,
            StreamName::Stderr => &mut self.stderr,
        };
        buffer.push_str(&line);
        buffer.push('\n');
        self.oldest.get_or_insert_with(Instant::now);
        if self.stdout.len() + self.stderr.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Watch stderr for a panic; false for a line to leave out (the backtrace).
    fn read_stderr(&mut self, line: &str) -> bool {
        if self.in_backtrace {
            let trimmed = line.trim_start();
            let frame = trimmed
                .split_once(':')
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
            if frame || trimmed.starts_with("at ") {
                return false;
            }
            self.in_backtrace = false;
            if line.starts_with("note: Some details are omitted") {
                return false;
            }
        }
        if line == "stack backtrace:" {
            self.in_backtrace = true;
            return false;
        }
        if let Some(message) = line.strip_prefix("ChatError: ") {
            // A model call's error returned with `?`: evcxr prints it and carries on; the cell
            // failed all the same.
            self.failure.get_or_insert_with(|| Failure {
                ename: "ChatError",
                evalue: format!("a model call failed: {message}"),
            });
        } else if self.panic_message_next {
            self.panic_message_next = false;
            self.failure.get_or_insert_with(|| Failure::panic(line));
        } else if let Some(rest) = panic_line(line) {
            // "thread 'x' panicked at src/lib.rs:3:5: message" (older) or the message on the
            // next line (newer Rust).
            match rest.split_once(": ") {
                Some((_, message)) if !message.is_empty() => {
                    self.failure.get_or_insert_with(|| Failure::panic(message));
                }
                _ => self.panic_message_next = true,
            }
        }
        true
    }

    fn due(&self) -> bool {
        self.oldest.is_some_and(|t| t.elapsed() >= FLUSH_EVERY)
    }

    fn flush(&mut self) {
        self.oldest = None;
        let Some(sink) = &self.sink else { return };
        for (name, buffer) in [
            (StreamName::Stdout, &mut self.stdout),
            (StreamName::Stderr, &mut self.stderr),
        ] {
            if !buffer.is_empty() {
                sink.stream(name, &std::mem::take(buffer));
            }
        }
    }

    /// The cell ended: the rest of its output, and one note if the cap left some out.
    fn finish(&mut self) {
        self.flush();
        if let (Some(sink), true) = (&self.sink, self.dropped_lines > 0) {
            sink.display(
                truncation_note(self.dropped_lines, self.dropped_bytes, self.limits),
                None,
            );
        }
        self.sink = None;
    }
}

/// What follows "panicked at" when `line` is Rust's panic report ("thread 'main' (1234)
/// panicked at src/lib.rs:3:5:"), the thread id being absent before Rust 1.89.
fn panic_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("thread '")?;
    let (_, rest) = rest.split_once("' ")?;
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(") ")?.1,
        None => rest,
    };
    rest.strip_prefix("panicked at ")
}

fn truncation_note(lines: usize, bytes: usize, limits: Limits) -> Bundle {
    Bundle::markdown(format!(
        "*… {lines} more line(s) of output ({:.1} MB) not shown: a cell keeps its first {} KB of printed output, so the notebook stays small and responsive. Print a summary instead, or write large output to a file.*",
        bytes as f64 / 1e6,
        limits.cell_bytes / 1024
    ))
}

fn forward(
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    control: Receiver<Control>,
    limits: Limits,
) {
    let mut pending = Pending::new(None, limits);
    let (mut out, mut err) = (stdout, stderr);
    loop {
        // `select!` picks at random among ready channels, but a line printed after a cell began
        // belongs to that cell: control messages already sent are handled before any line.
        let line = select! {
            recv(out) -> line => match line {
                Ok(line) => Some((StreamName::Stdout, line)),
                Err(_) => {
                    out = never();
                    None
                }
            },
            recv(err) -> line => match line {
                Ok(line) => Some((StreamName::Stderr, line)),
                Err(_) => {
                    err = never();
                    None
                }
            },
            recv(control) -> message => match message {
                Ok(message) => {
                    handle(message, &mut pending, limits);
                    None
                }
                Err(_) => return,
            },
            default(FLUSH_EVERY) => None,
        };
        while let Ok(message) = control.try_recv() {
            handle(message, &mut pending, limits);
        }
        if let Some((name, line)) = line {
            pending.push(name, line);
        }
        if pending.due() {
            pending.flush();
        }
    }
}

fn handle(message: Control, pending: &mut Pending, limits: Limits) {
    match message {
        Control::Begin(sink) => {
            pending.finish();
            *pending = Pending::new(Some(sink), limits);
        }
        Control::End(ack) => {
            let failure = pending.failure.take();
            pending.finish();
            let _ = ack.send(failure);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::{CollectingSink, SinkEvent};

    struct Cell {
        output: CellOutput,
        out: Sender<String>,
        err: Sender<String>,
    }

    impl Cell {
        fn start(limits: Limits) -> (Self, Arc<CollectingSink>) {
            let (out, out_rx) = unbounded();
            let (err, err_rx) = unbounded();
            let output = CellOutput::start(out_rx, err_rx, limits);
            let sink = Arc::new(CollectingSink::default());
            output.begin(sink.clone());
            (Self { output, out, err }, sink)
        }

        /// Like the evcxr worker: wait until the lines are read, then end the cell.
        fn end(&self) -> Option<Failure> {
            while !self.out.is_empty() || !self.err.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.output.end()
        }
    }

    fn streams(events: &[SinkEvent]) -> Vec<(StreamName, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                SinkEvent::Stream(n, t) => Some((*n, t.clone())),
                _ => None,
            })
            .collect()
    }

    fn notes(events: &[SinkEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                SinkEvent::Display(b, _) => b.text("text/markdown").map(String::from),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn many_lines_become_few_messages_in_order() {
        let (cell, sink) = Cell::start(Limits::default());
        for i in 0..5000 {
            cell.out.send(format!("line {i}")).unwrap();
        }
        cell.err.send("a warning".into()).unwrap();
        cell.end();
        let events = sink.take();
        let streams = streams(&events);
        assert!(streams.len() <= 10, "{} messages", streams.len());
        let text: String = streams
            .iter()
            .filter(|(n, _)| *n == StreamName::Stdout)
            .map(|(_, t)| t.as_str())
            .collect();
        let expected: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
        assert!(streams
            .iter()
            .any(|(n, t)| *n == StreamName::Stderr && t == "a warning\n"));
        assert!(notes(&events).is_empty());
    }

    #[test]
    fn output_past_the_limit_is_counted_and_noted_once() {
        let (cell, sink) = Cell::start(Limits { cell_bytes: 100 });
        for i in 0..1000 {
            cell.out.send(format!("{i:09}")).unwrap(); // 10 bytes with the newline
        }
        cell.end();
        let events = sink.take();
        let kept: usize = streams(&events).iter().map(|(_, t)| t.len()).sum();
        assert_eq!(kept, 100);
        let notes = notes(&events);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("990 more line(s)"), "{}", notes[0]);
    }

    #[test]
    fn a_slow_printer_is_shown_while_the_cell_runs() {
        let (cell, sink) = Cell::start(Limits::default());
        cell.out.send("first".into()).unwrap();
        std::thread::sleep(FLUSH_EVERY * 3);
        assert_eq!(
            streams(&sink.take()).len(),
            1,
            "not sent before the cell ended"
        );
        cell.end();
    }

    #[test]
    fn a_panic_is_reported_and_its_backtrace_left_out() {
        let (cell, sink) = Cell::start(Limits::default());
        for line in [
            "",
            "thread '<unnamed>' (24096) panicked at src/lib.rs:114:1:",
            "this cell fails",
            "stack backtrace:",
            "   0: __rustc::rust_begin_unwind",
            "             at /rustc/abc/library/std/src/panicking.rs:689:5",
            "   7: evcxr::runtime::Runtime::run_loop",
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
            "after",
        ] {
            cell.err.send(line.into()).unwrap();
        }
        while !cell.err.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            cell.output.end().map(|f| f.evalue).as_deref(),
            Some("the cell panicked: this cell fails")
        );
        let text: String = streams(&sink.take()).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            text,
            "\nthread '<unnamed>' (24096) panicked at src/lib.rs:114:1:\nthis cell fails\nafter\n"
        );
        // The older one-line form, and a cell without a panic.
        cell.output.begin(sink.clone());
        cell.err
            .send("thread 'main' panicked at src/lib.rs:3:5: index out of bounds".into())
            .unwrap();
        while !cell.err.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            cell.output.end().map(|f| f.evalue).as_deref(),
            Some("the cell panicked: index out of bounds")
        );
        cell.output.begin(sink.clone());
        cell.err
            .send("ChatError: model not loaded (HTTP 502)".into())
            .unwrap();
        let failure = cell.end().unwrap();
        assert_eq!(failure.ename, "ChatError");
        assert!(failure.evalue.ends_with("model not loaded (HTTP 502)"));
        cell.output.begin(sink.clone());
        cell.err.send("warning: something".into()).unwrap();
        assert_eq!(cell.end(), None);
    }

    #[test]
    fn each_cell_gets_its_own_output_and_limit() {
        let (cell, first) = Cell::start(Limits { cell_bytes: 10 });
        cell.out.send("123456789".into()).unwrap();
        cell.out.send("dropped".into()).unwrap();
        cell.end();
        let second = Arc::new(CollectingSink::default());
        cell.output.begin(second.clone());
        cell.out.send("987654321".into()).unwrap();
        cell.end();
        assert_eq!(notes(&first.take()).len(), 1);
        let events = second.take();
        assert_eq!(
            streams(&events),
            vec![(StreamName::Stdout, "987654321\n".to_string())]
        );
        assert!(notes(&events).is_empty());
    }
}
