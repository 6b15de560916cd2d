//! llama.cpp's own `llama-server` (the engine under LM Studio and Ollama) as a child process: the
//! reference the benchmarks and tests compare the embedded engine with. `scripts/llama-server.sh`
//! builds it; `ALIGNMENT_LAB_LLAMA_SERVER` names the binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// The environment variable holding the path of the `llama-server` binary.
pub const BINARY_ENV: &str = "ALIGNMENT_LAB_LLAMA_SERVER";

/// The binary `ALIGNMENT_LAB_LLAMA_SERVER` names, if it is set and the file exists.
pub fn binary_from_env() -> Option<PathBuf> {
    std::env::var_os(BINARY_ENV)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

/// A running `llama-server`, stopped when dropped.
pub struct LlamaServer {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// Where its output goes (for a failure's message).
    pub log: PathBuf,
}

/// How the server is started; the defaults mirror the embedded engine's (4 sequences of 2048
/// tokens, the same threads) so the comparison is like for like.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub parallel: usize,
    pub context_per_sequence: u32,
    pub threads: i32,
    /// A llama.cpp built-in template name instead of the GGUF's (`--no-jinja --chat-template`).
    pub chat_template: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        let engine = crate::llm::embedded::EmbeddedSettings::default();
        Self {
            parallel: engine.parallel,
            context_per_sequence: engine.context_per_sequence,
            threads: engine.threads,
            chat_template: None,
        }
    }
}

impl LlamaServer {
    /// Start `binary` serving `gguf` on a free port and wait (up to two minutes) until it
    /// answers `/health`.
    pub fn start(binary: &Path, gguf: &Path, options: &ServerOptions) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::env::temp_dir().join(format!("llama-server-{port}.log"));
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        if let Some(name) = &options.chat_template {
            command.args(["--no-jinja", "--chat-template", name]);
        }
        let child = command
            .arg("--model")
            .arg(gguf)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--parallel", &options.parallel.to_string()])
            .args([
                "--ctx-size",
                &(options.context_per_sequence as usize * options.parallel).to_string(),
            ])
            .args(["--threads", &options.threads.to_string()])
            .args(["--threads-batch", &options.threads.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            log,
        };
        server.wait_until_healthy(port, Duration::from_secs(120))?;
        Ok(server)
    }

    fn wait_until_healthy(&mut self, port: u16, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "llama-server exited with {status} before it was ready; see {}",
                    self.log.display()
                );
            }
            if health_ok(port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(anyhow!(
            "llama-server did not answer /health in {} s; see {}",
            limit.as_secs(),
            self.log.display()
        ))
    }
}

/// One blocking `GET /health` (HTTP/1.0 by hand: this runs before any async runtime may exist,
/// and pulling in a blocking HTTP client for one probe is not worth it).
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200")
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
