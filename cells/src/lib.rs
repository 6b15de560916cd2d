//! Model calls from Rust cells in Alignment Lab.
//!
//! Every Rust cell has these in scope, with no setup: they call the kernel's own session — the
//! backend the magics use (LM Studio, Ollama, llama.cpp's server or the embedded model), its
//! request slots, its response cache for seeded requests, the cell's interrupt and its run
//! record — through the kernel's endpoint on 127.0.0.1.
//!
//! ```ignore
//! let answer = chat("What is the sum of the first 100 natural numbers?")?;
//! let careful = Chat::new()
//!     .system("You are a careful mathematician.")
//!     .user("What is 17 * 24? End with 'Answer: …'.")
//!     .temperature(0.2)
//!     .seed(1)
//!     .send()?;
//! let both = chat_all(vec![Chat::new().user("One?"), Chat::new().user("Two?")])?;
//! for q in course_questions() {
//!     println!("{}: {}", q.id, grade(&q, &chat(&q.text)?)?);
//! }
//! // your own debate, graded and drawn like `:debate`
//! let mut t = Transcript::new("my pipeline");
//! let q = &course_questions()[0];
//! t.round(q, &both);
//! t.final_answer(q, &answer);
//! t.show()?;
//! ```
//!
//! Written with std alone — a small HTTP/1.1 client and JSON reader — on purpose: the crate must
//! compile inside evcxr offline, without a registry, in a second or two, on a student's laptop.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;

/// Why a call failed.
#[derive(Clone, PartialEq)]
pub enum ChatError {
    /// The cell is not running in an Alignment Lab kernel (no endpoint in the environment).
    NoKernel,
    /// The kernel or the model server answered with an error.
    Server { status: u16, message: String },
    /// The connection to the kernel failed.
    Connection(String),
    /// The kernel's answer could not be read.
    Protocol(String),
}

impl ChatError {
    /// What went wrong, without the `ChatError:` prefix.
    pub fn reason(&self) -> String {
        match self {
            ChatError::NoKernel => "no Alignment Lab kernel to call: ALIGNMENT_LAB_ENDPOINT is not set (run this in a notebook on the Rust · Alignment Lab kernel)".to_string(),
            ChatError::Server { status, message } => format!("{message} (HTTP {status})"),
            ChatError::Connection(e) => format!("cannot reach the kernel's endpoint: {e}"),
            ChatError::Protocol(e) => format!("unreadable answer from the kernel: {e}"),
        }
    }
}

/// `ChatError: <what went wrong>`, in both forms: a cell that returns one with `?` prints it
/// (evcxr writes the error to stderr, by default with Display), and that line is how the
/// kernel knows the cell failed.
impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChatError: {}", self.reason())
    }
}

impl fmt::Debug for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ChatError {}

/// One user turn to the session's default model.
pub fn chat(prompt: &str) -> Result<String, ChatError> {
    Chat::new().user(prompt).send()
}

/// A chat request: turns, model and sampling settings. Unset settings use the kernel's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chat {
    model: Option<String>,
    messages: Vec<(&'static str, String)>,
    temperature: Option<f64>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
}

impl Chat {
    pub fn new() -> Self {
        Self::default()
    }

    /// The model to ask (an id from [`models`]); default: the session's default model.
    pub fn model(mut self, id: impl Into<String>) -> Self {
        self.model = Some(id.into());
        self
    }

    pub fn system(mut self, text: impl Into<String>) -> Self {
        self.messages.push(("system", text.into()));
        self
    }

    pub fn user(mut self, text: impl Into<String>) -> Self {
        self.messages.push(("user", text.into()));
        self
    }

    /// An earlier answer of the model, to continue a conversation.
    pub fn assistant(mut self, text: impl Into<String>) -> Self {
        self.messages.push(("assistant", text.into()));
        self
    }

    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// A seed makes the answer reproducible: the kernel answers a repeated seeded request from
    /// its response cache.
    pub fn seed(mut self, n: u64) -> Self {
        self.seed = Some(n);
        self
    }

    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Append a user turn in place (for conversations kept in a `Vec<Chat>`).
    pub fn add_user(&mut self, text: impl Into<String>) {
        self.messages.push(("user", text.into()));
    }

    /// Append the model's answer in place, so the next turn sees it.
    pub fn add_assistant(&mut self, text: impl Into<String>) {
        self.messages.push(("assistant", text.into()));
    }

    /// Ask and wait for the whole answer.
    pub fn send(&self) -> Result<String, ChatError> {
        let reply = post("/chat/completions", &self.to_json())?;
        reply
            .get("choices")
            .and_then(|c| c.index(0))
            .and_then(|c| c.get("message"))
            .and_then(|m| m.get("content"))
            .map(|c| c.as_str().unwrap_or("").to_string())
            .ok_or_else(|| ChatError::Protocol("no choices[0].message.content".into()))
    }

    fn to_json(&self) -> String {
        let messages: Vec<String> = self
            .messages
            .iter()
            .map(|(role, text)| format!(r#"{{"role":"{role}","content":{}}}"#, json::quote(text)))
            .collect();
        let mut fields = vec![format!(r#""messages":[{}]"#, messages.join(","))];
        if let Some(m) = &self.model {
            fields.push(format!(r#""model":{}"#, json::quote(m)));
        }
        if let Some(t) = self.temperature {
            fields.push(format!(r#""temperature":{t}"#));
        }
        if let Some(s) = self.seed {
            fields.push(format!(r#""seed":{s}"#));
        }
        if let Some(n) = self.max_tokens {
            fields.push(format!(r#""max_tokens":{n}"#));
        }
        format!("{{{}}}", fields.join(","))
    }
}

/// Several requests at once (up to the server's slots per model); the answers come back in the
/// order of the requests. The first failure is returned.
pub fn chat_all(requests: Vec<Chat>) -> Result<Vec<String>, ChatError> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|r| scope.spawn(move || r.send()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ChatError::Protocol("a request panicked".into())))
            })
            .collect()
    })
}

/// The ids of the models the session's backend offers.
pub fn models() -> Result<Vec<String>, ChatError> {
    let reply = get("/models")?;
    let data = reply
        .get("data")
        .and_then(|d| d.as_array())
        .ok_or_else(|| ChatError::Protocol("no data array".into()))?;
    Ok(data
        .iter()
        .filter_map(|m| m.get("id").and_then(|i| i.as_str()).map(String::from))
        .collect())
}

/// A course question for Exercise 3, with the reference answer a teacher accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The short name the grader knows it by ("sum100", …).
    pub id: String,
    pub text: String,
    pub reference: String,
}

/// The course's five debate questions (the chapter's Exercise 3).
pub fn course_questions() -> Vec<Question> {
    COURSE_QUESTIONS
        .iter()
        .map(|(id, text, reference)| Question {
            id: id.to_string(),
            text: text.to_string(),
            reference: reference.to_string(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Correct,
    Wrong,
    /// The grader could not tell (a range, two answers, no final statement).
    Unclear,
}

/// What the grader `:debate` uses read in an answer, and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    pub verdict: Verdict,
    /// The value it read ("5 hours", "back to back", "valid plan (7 crossings)").
    pub read: Option<String>,
    /// The final statement it read it from.
    pub statement: Option<String>,
    /// Why, when it is not plain ("a known wrong answer", "a range or a choice: 5 or 10").
    pub note: Option<String>,
}

impl Grade {
    pub fn is_correct(&self) -> bool {
        self.verdict == Verdict::Correct
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Correct => "✓ correct",
            Verdict::Wrong => "✗ wrong",
            Verdict::Unclear => "? unclear",
        };
        write!(f, "{verdict}")?;
        if let Some(read) = &self.read {
            write!(f, " — read “{read}”")?;
        } else if let Some(s) = &self.statement {
            write!(f, " — statement “{s}”")?;
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// Grade an answer to a course question with the grader `:debate` uses.
pub fn grade(question: &Question, answer: &str) -> Result<Grade, ChatError> {
    let body = format!(
        r#"{{"question":{},"answer":{}}}"#,
        json::quote(&question.id),
        json::quote(answer)
    );
    let reply = post_at("/alignment-lab/grade", &body, false)?;
    let text = |k: &str| reply.get(k).and_then(|v| v.as_str()).map(String::from);
    let verdict = match text("verdict").as_deref() {
        Some("correct") => Verdict::Correct,
        Some("wrong") => Verdict::Wrong,
        Some("unclear") => Verdict::Unclear,
        other => return Err(ChatError::Protocol(format!("verdict {other:?}"))),
    };
    Ok(Grade {
        verdict,
        read: text("read"),
        statement: text("statement"),
        note: text("note"),
    })
}

/// A debate your own code ran: each round's answers per agent and the final answer, per
/// question. [`Transcript::show`] grades it with `:debate`'s grader and draws it with
/// `:debate`'s table and plot in the cell — beside the session's latest `:debate` run, if any.
///
/// ```ignore
/// let mut t = Transcript::new("2 agents, chapter prompt");
/// t.round(&q, &answers);          // once per round, one answer per agent, in agent order
/// t.final_answer(&q, &final_text);
/// t.show()?;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    label: String,
    models: Vec<String>,
    questions: Vec<TranscriptQuestion>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct TranscriptQuestion {
    id: String,
    rounds: Vec<Vec<String>>,
    final_answer: Option<String>,
}

/// What [`Transcript::show`] measured, for use in later cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Questions with a reference answer.
    pub graded: usize,
    /// Of those, how many final answers were right.
    pub final_correct: usize,
    /// Of those, how many last-round majorities were right.
    pub majority_correct: usize,
    /// Share of right agent answers per round (`None` where nothing was graded).
    pub accuracy_by_round: Vec<Option<f64>>,
}

impl Transcript {
    /// An empty transcript; `label` names your pipeline in the report.
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_string(),
            ..Self::default()
        }
    }

    /// The models your agents used, cycled over agents (default: the session's default model).
    pub fn models<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.models = ids.into_iter().map(Into::into).collect();
        self
    }

    fn entry(&mut self, question: &Question) -> &mut TranscriptQuestion {
        let i = match self.questions.iter().position(|q| q.id == question.id) {
            Some(i) => i,
            None => {
                self.questions.push(TranscriptQuestion {
                    id: question.id.clone(),
                    ..TranscriptQuestion::default()
                });
                self.questions.len() - 1
            }
        };
        &mut self.questions[i]
    }

    /// Record the next round for `question`: one answer per agent, in agent order.
    pub fn round(&mut self, question: &Question, answers: &[String]) {
        self.entry(question).rounds.push(answers.to_vec());
    }

    /// Record the final-answer call's answer for `question`.
    pub fn final_answer(&mut self, question: &Question, answer: &str) {
        self.entry(question).final_answer = Some(answer.to_string());
    }

    /// How many rounds are recorded for `question`.
    pub fn rounds_of(&self, question: &Question) -> usize {
        self.questions
            .iter()
            .find(|q| q.id == question.id)
            .map_or(0, |q| q.rounds.len())
    }

    /// Grade and draw it in this cell (summary, answers per agent and round, plot, transcripts,
    /// and the comparison with the session's latest `:debate`); also written to a run record.
    pub fn show(&self) -> Result<Report, ChatError> {
        let reply = post_at("/alignment-lab/report", &self.to_json(), false)?;
        let count = |k: &str| match reply.get(k) {
            Some(json::Value::Number(n)) => *n as usize,
            _ => 0,
        };
        let accuracy_by_round = reply
            .get("accuracy_by_round")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .map(|v| match v {
                        json::Value::Number(n) => Some(*n),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Report {
            graded: count("graded"),
            final_correct: count("final_correct"),
            majority_correct: count("majority_correct"),
            accuracy_by_round,
        })
    }

    fn to_json(&self) -> String {
        let strings = |xs: &[String]| {
            xs.iter()
                .map(|x| json::quote(x))
                .collect::<Vec<_>>()
                .join(",")
        };
        let questions: Vec<String> = self
            .questions
            .iter()
            .map(|q| {
                let rounds: Vec<String> = q
                    .rounds
                    .iter()
                    .map(|r| format!("[{}]", strings(r)))
                    .collect();
                format!(
                    r#"{{"question":{},"rounds":[{}],"final_answer":{}}}"#,
                    json::quote(&q.id),
                    rounds.join(","),
                    q.final_answer
                        .as_deref()
                        .map_or("null".to_string(), json::quote)
                )
            })
            .collect();
        format!(
            r#"{{"label":{},"models":[{}],"questions":[{}]}}"#,
            json::quote(&self.label),
            strings(&self.models),
            questions.join(",")
        )
    }
}

/// The kernel's endpoint (base URL with `/v1`) and token, to use with any OpenAI client.
pub fn endpoint() -> Option<(String, String)> {
    let url = std::env::var("ALIGNMENT_LAB_ENDPOINT").ok()?;
    let token = std::env::var("ALIGNMENT_LAB_ENDPOINT_TOKEN").unwrap_or_default();
    Some((url, token))
}

// The course questions, as the kernel's own list (`lab::course`) has them; a test there keeps
// the two equal.
const COURSE_QUESTIONS: &[(&str, &str, &str)] = &[
    ("sum100", "What is the sum of the first 100 natural numbers?", "5050"),
    ("nine-women", "A woman needs 9 months to give birth to a child. How long does it take for 9 women to give birth to one child?", "9 months"),
    ("shirts", "I hang 7 shirts out to dry in the Sun. After 5 hours, all shirts are dry. The next day I hang 14 shirts out to dry. The conditions are the same. How long will it take to dry 14 shirts?", "5 hours"),
    ("crossing", "A farmer with a wolf, a goat, and a cabbage must cross a river by boat. The boat can carry only the farmer and a single item. If left unattended together, the wolf would eat the goat, or the goat would eat the cabbage. How can they cross the river without anything being eaten? Give the crossings as a numbered list.", "a valid crossing plan"),
    ("behind-father", "How can you physically stand behind your father while he is standing behind you?", "back to back"),
];

fn get(path: &str) -> Result<json::Value, ChatError> {
    request("GET", path, None, true)
}

fn post(path: &str, body: &str) -> Result<json::Value, ChatError> {
    post_at(path, body, true)
}

fn post_at(path: &str, body: &str, under_v1: bool) -> Result<json::Value, ChatError> {
    request("POST", path, Some(body), under_v1)
}

/// One HTTP/1.1 exchange with the kernel (`Connection: close`, so the answer ends at EOF).
fn request(
    method: &str,
    path: &str,
    body: Option<&str>,
    under_v1: bool,
) -> Result<json::Value, ChatError> {
    let (url, token) = endpoint().ok_or(ChatError::NoKernel)?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ChatError::Connection(format!("not an http:// URL: {url}")))?;
    let (host, base) = rest.split_once('/').unwrap_or((rest, ""));
    let target = if under_v1 {
        format!("/{}{path}", base.trim_end_matches('/'))
    } else {
        path.to_string()
    };
    let body = body.unwrap_or("");
    let mut stream = TcpStream::connect(host).map_err(|e| ChatError::Connection(e.to_string()))?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body.as_bytes()))
        .map_err(|e| ChatError::Connection(e.to_string()))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| ChatError::Connection(e.to_string()))?;
    let text = String::from_utf8(raw).map_err(|_| ChatError::Protocol("not UTF-8".into()))?;
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ChatError::Protocol("no HTTP header".into()))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ChatError::Protocol("no HTTP status".into()))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let payload = if chunked {
        dechunk(payload)?
    } else {
        payload.to_string()
    };
    let value = json::parse(&payload).map_err(ChatError::Protocol)?;
    if status >= 400 {
        let message = value
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("error")
            .to_string();
        return Err(ChatError::Server { status, message });
    }
    Ok(value)
}

fn dechunk(mut s: &str) -> Result<String, ChatError> {
    let mut out = String::new();
    loop {
        let (size, rest) = s
            .split_once("\r\n")
            .ok_or_else(|| ChatError::Protocol("bad chunk".into()))?;
        let n = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| ChatError::Protocol("bad chunk size".into()))?;
        if n == 0 {
            return Ok(out);
        }
        let chunk = rest
            .get(..n)
            .ok_or_else(|| ChatError::Protocol("short chunk".into()))?;
        out.push_str(chunk);
        s = rest.get(n + 2..).unwrap_or("");
    }
}

/// Just enough JSON to write requests and read the kernel's answers.
mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }

        pub fn index(&self, i: usize) -> Option<&Value> {
            self.as_array()?.get(i)
        }

        pub fn as_array(&self) -> Option<&Vec<Value>> {
            match self {
                Value::Array(items) => Some(items),
                _ => None,
            }
        }

        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
    }

    /// A JSON string literal for `text`.
    pub fn quote(text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        let v = p.value()?;
        p.space();
        if p.at != p.chars.len() {
            return Err(format!("trailing characters at {}", p.at));
        }
        Ok(v)
    }

    struct Parser {
        chars: Vec<char>,
        at: usize,
    }

    impl Parser {
        fn space(&mut self) {
            while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
                self.at += 1;
            }
        }

        fn eat(&mut self, word: &str) -> bool {
            let w: Vec<char> = word.chars().collect();
            if self.chars.get(self.at..self.at + w.len()) == Some(&w[..]) {
                self.at += w.len();
                true
            } else {
                false
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.space();
            match self.chars.get(self.at).copied() {
                Some('{') => self.object(),
                Some('[') => self.array(),
                Some('"') => self.string().map(Value::String),
                Some('t') if self.eat("true") => Ok(Value::Bool(true)),
                Some('f') if self.eat("false") => Ok(Value::Bool(false)),
                Some('n') if self.eat("null") => Ok(Value::Null),
                Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
                other => Err(format!("unexpected {other:?} at {}", self.at)),
            }
        }

        fn object(&mut self) -> Result<Value, String> {
            self.at += 1;
            let mut fields = Vec::new();
            self.space();
            if self.eat("}") {
                return Ok(Value::Object(fields));
            }
            loop {
                self.space();
                let key = self.string()?;
                self.space();
                if !self.eat(":") {
                    return Err(format!("expected ':' at {}", self.at));
                }
                fields.push((key, self.value()?));
                self.space();
                if self.eat("}") {
                    return Ok(Value::Object(fields));
                }
                if !self.eat(",") {
                    return Err(format!("expected ',' or '}}' at {}", self.at));
                }
            }
        }

        fn array(&mut self) -> Result<Value, String> {
            self.at += 1;
            let mut items = Vec::new();
            self.space();
            if self.eat("]") {
                return Ok(Value::Array(items));
            }
            loop {
                items.push(self.value()?);
                self.space();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                if !self.eat(",") {
                    return Err(format!("expected ',' or ']' at {}", self.at));
                }
            }
        }

        fn string(&mut self) -> Result<String, String> {
            if !self.eat("\"") {
                return Err(format!("expected a string at {}", self.at));
            }
            let mut out = String::new();
            loop {
                let c = *self.chars.get(self.at).ok_or("unterminated string")?;
                self.at += 1;
                match c {
                    '"' => return Ok(out),
                    '\\' => {
                        let e = *self.chars.get(self.at).ok_or("unterminated escape")?;
                        self.at += 1;
                        match e {
                            'n' => out.push('\n'),
                            't' => out.push('\t'),
                            'r' => out.push('\r'),
                            'b' => out.push('\u{8}'),
                            'f' => out.push('\u{c}'),
                            'u' => {
                                let high = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&high) && self.eat("\\u") {
                                    let low = self.hex4()?;
                                    0x10000
                                        + ((high - 0xD800) << 10)
                                        + (low.wrapping_sub(0xDC00) & 0x3FF)
                                } else {
                                    high
                                };
                                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                            }
                            other => out.push(other),
                        }
                    }
                    c => out.push(c),
                }
            }
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits: String = self
                .chars
                .get(self.at..self.at + 4)
                .ok_or("short \\u escape")?
                .iter()
                .collect();
            self.at += 4;
            u32::from_str_radix(&digits, 16).map_err(|_| format!("bad \\u escape {digits}"))
        }

        fn number(&mut self) -> Result<Value, String> {
            let start = self.at;
            while self
                .chars
                .get(self.at)
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
            {
                self.at += 1;
            }
            let s: String = self.chars[start..self.at].iter().collect();
            s.parse()
                .map(Value::Number)
                .map_err(|_| format!("bad number {s}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let v = json::parse(
            r#"{"a": [1, -2.5e1, true, null, "x\n\"y\" \u00e9 \ud83d\ude00"], "b": {}}"#,
        )
        .unwrap();
        let items = v.get("a").unwrap().as_array().unwrap();
        assert_eq!(items[1], json::Value::Number(-25.0));
        assert_eq!(items[4].as_str(), Some("x\n\"y\" é 😀"));
        assert_eq!(json::quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert!(json::parse("{").is_err());
    }

    #[test]
    fn transcripts_are_json_in_round_order() {
        let q = &course_questions()[2];
        let mut t = Transcript::new("mine").models(["a", "b"]);
        t.round(
            q,
            &[
                "Answer: 10 hours".to_string(),
                "Answer: 5 hours".to_string(),
            ],
        );
        t.round(
            q,
            &["Answer: 5 hours".to_string(), "Answer: 5 hours".to_string()],
        );
        t.final_answer(q, "Final answer: 5 hours");
        assert_eq!(t.rounds_of(q), 2);
        let v = json::parse(&t.to_json()).unwrap();
        assert_eq!(v.get("label").unwrap().as_str(), Some("mine"));
        let tq = v.get("questions").unwrap().index(0).unwrap();
        assert_eq!(tq.get("question").unwrap().as_str(), Some("shirts"));
        let rounds = tq.get("rounds").unwrap().as_array().unwrap();
        assert_eq!(rounds.len(), 2);
        assert_eq!(
            rounds[0].index(0).unwrap().as_str(),
            Some("Answer: 10 hours")
        );
        assert_eq!(
            tq.get("final_answer").unwrap().as_str(),
            Some("Final answer: 5 hours")
        );
        let empty = json::parse(&Transcript::new("x").to_json()).unwrap();
        assert_eq!(empty.get("questions").unwrap().as_array().unwrap().len(), 0);
    }

    #[test]
    fn errors_print_what_went_wrong() {
        let e = ChatError::Server {
            status: 502,
            message: "model not loaded".into(),
        };
        assert_eq!(format!("{e:?}"), "ChatError: model not loaded (HTTP 502)");
        assert_eq!(e.to_string(), format!("{e:?}"));
        assert_eq!(e.reason(), "model not loaded (HTTP 502)");
    }

    #[test]
    fn requests_are_json() {
        let c = Chat::new()
            .system("Be brief.")
            .user("Say \"hi\"")
            .model("m")
            .temperature(0.5)
            .seed(3)
            .max_tokens(9);
        let v = json::parse(&c.to_json()).unwrap();
        assert_eq!(v.get("model").unwrap().as_str(), Some("m"));
        assert_eq!(
            v.get("messages")
                .unwrap()
                .index(1)
                .unwrap()
                .get("content")
                .unwrap()
                .as_str(),
            Some("Say \"hi\"")
        );
    }

    #[test]
    fn five_course_questions() {
        let q = course_questions();
        assert_eq!(q.len(), 5);
        assert_eq!(q[2].reference, "5 hours");
    }
}
