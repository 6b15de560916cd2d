/// A failed cell, as Jupyter shows it: one `error` output and an error reply.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    /// A short class name: `UsageError`, `BackendError`, `CompilationError`, `Interrupted`, …
    pub ename: String,
    /// One line that says what went wrong and, where possible, what to do.
    pub evalue: String,
    /// Further lines (a usage block, compiler output).
    pub traceback: Vec<String>,
}

impl CellError {
    pub fn new(ename: &str, evalue: impl Into<String>) -> Self {
        let evalue = evalue.into();
        Self {
            ename: ename.to_string(),
            traceback: vec![format!("{ename}: {evalue}")],
            evalue,
        }
    }

    pub fn with_traceback(mut self, lines: Vec<String>) -> Self {
        self.traceback = lines;
        self
    }

    pub fn interrupted(what: &str) -> Self {
        Self::new("Interrupted", what)
    }
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.ename, self.evalue)
    }
}

impl std::error::Error for CellError {}
