//! Multi-agent debate after Du et al. (2023): agents answer independently, then for several
//! rounds each agent sees only the other agents' previous-round answers and updates its own;
//! a final call reads every round and commits to an answer. Baselines at equal cost: a single
//! agent, and self-consistency (majority of independent samples).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::grading::{final_statement, grade, Grade, Reference, Verdict};
use crate::llm::{ChatBackend, ChatRequest, LlmError, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptStyle {
    /// "… Using the reasoning from other agents as additional advice, can you give an updated answer? …"
    Long,
    /// "… Based off the opinion of other agents, can you give an updated response …"
    Short,
}

pub use super::course::{course_suite, Question};

#[derive(Debug, Clone)]
pub struct DebateSpec {
    pub questions: Vec<Question>,
    pub agents: usize,
    pub rounds: usize,
    /// Cycled over agents: agent i uses models[i % len].
    pub models: Vec<String>,
    pub final_model: String,
    pub prompt: PromptStyle,
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: u64,
    pub baselines: bool,
    /// A model that settles `unclear` grades (the grade then says so).
    pub judge: Option<String>,
    /// Characters of other agents' answers above which they are summarised first.
    pub summary_threshold_chars: usize,
    /// Characters that fit in a model's context next to the answer it writes.
    pub prompt_budget_chars: usize,
}

/// A conservative characters-per-token estimate for English text.
pub const CHARS_PER_TOKEN: usize = 3;

impl DebateSpec {
    /// Budgets for a model with `context_tokens` of context answering in `max_tokens`.
    pub fn budgets(context_tokens: usize, max_tokens: u32) -> (usize, usize) {
        let room = context_tokens
            .saturating_sub(max_tokens as usize + 64)
            .max(256)
            * CHARS_PER_TOKEN;
        // Other agents' answers may take half of it before they are summarised.
        (room / 2, room)
    }
}

fn chars(messages: &[Message]) -> usize {
    messages.iter().map(|m| m.content.len()).sum()
}

/// Drop an agent's oldest exchanges (never its first question, never the newest prompt) until
/// the conversation fits the model's context.
pub fn fit_history(messages: &mut Vec<Message>, budget_chars: usize) {
    while chars(messages) > budget_chars && messages.len() > 3 {
        messages.drain(1..3);
    }
}

impl DebateSpec {
    pub fn model_for(&self, agent: usize) -> &str {
        &self.models[agent % self.models.len()]
    }

    pub fn total_calls(&self) -> usize {
        let debate = self.agents * self.rounds + 1;
        let baselines = if self.baselines {
            1 + self.agents * self.rounds
        } else {
            0
        };
        self.questions.len() * (debate + baselines)
    }
}

const ANSWER_FORMAT: &str = "State your final answer at the end of your response, on its own line, in the form \"Answer: ...\".";

pub fn first_prompt(question: &str) -> String {
    format!("{question}\n\nExplain your reasoning. {ANSWER_FORMAT}")
}

/// The update prompt of rounds 2..R: the other agents' previous-round answers only.
pub fn update_prompt(others: &[String], style: PromptStyle) -> String {
    let mut text = String::from("These are the solutions to the problem from other agents:\n");
    for answer in others {
        text.push_str(&format!("\nOne agent solution: ```{}```\n", answer.trim()));
    }
    text.push('\n');
    text.push_str(match style {
        PromptStyle::Long => "Using the reasoning from other agents as additional advice, can you give an updated answer? Examine your solution and that of the other agents step by step. ",
        PromptStyle::Short => "Based off the opinion of other agents, can you give an updated response to the task? ",
    });
    text.push_str(ANSWER_FORMAT);
    text
}

/// The course's final call: every round's answers. When they do not fit the model's context,
/// earlier rounds shrink to each agent's own final statement (its words, never the grader's
/// reading: the grade must not leak into the model's input), then the last round's answers are
/// shortened from the front (their conclusions are at the end).
pub fn final_prompt(question: &str, rounds: &[Vec<String>], budget_chars: usize) -> String {
    let build = |full_rounds_from: usize, keep_chars: usize| {
        let mut text = format!("A group of agents debated the following question over {} rounds.\n\nQuestion: {question}\n", rounds.len());
        for (r, answers) in rounds.iter().enumerate() {
            text.push_str(&format!("\nRound {}:\n", r + 1));
            for (a, answer) in answers.iter().enumerate() {
                if r >= full_rounds_from {
                    let answer = answer.trim();
                    let cut = answer
                        .char_indices()
                        .rev()
                        .nth(keep_chars.saturating_sub(1))
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    let shown = if cut > 0 {
                        format!("…{}", &answer[cut..])
                    } else {
                        answer.to_string()
                    };
                    text.push_str(&format!("Agent {}: ```{}```\n", a + 1, shown));
                } else {
                    let statement = final_statement(answer)
                        .map(|s| s.chars().take(300).collect::<String>())
                        .unwrap_or_else(|| "(no final statement)".into());
                    text.push_str(&format!("Agent {} concluded: \"{statement}\"\n", a + 1));
                }
            }
        }
        text.push_str(&format!("\nBased on all of these answers, decide on the final answer to the question. Explain briefly. {ANSWER_FORMAT}"));
        text
    };
    let all = build(0, usize::MAX);
    if all.len() <= budget_chars {
        return all;
    }
    let last = rounds.len().saturating_sub(1);
    let mut keep = 4000;
    loop {
        let text = build(last, keep);
        if text.len() <= budget_chars || keep <= 200 {
            return text;
        }
        keep = keep * 2 / 3;
    }
}

pub fn summary_prompt(others: &[String]) -> String {
    let mut text = String::from("Summarise each of the following solutions in two or three sentences. Keep each solution's key reasoning and its final answer exactly.\n");
    for (i, a) in others.iter().enumerate() {
        text.push_str(&format!("\nSolution {}: ```{}```\n", i + 1, a.trim()));
    }
    text
}

/// Whether the other agents' answers must be summarised before they fit the prompt.
pub fn needs_summary(others: &[String], threshold_chars: usize) -> bool {
    others.iter().map(|a| a.len()).sum::<usize>() > threshold_chars
}

/// The most common answer class (the same value or the same accepted phrase, however worded)
/// and a grade that holds it; `None` on a tie for first place or when nothing was read.
pub fn majority<'a>(grades: &[Option<&'a Grade>]) -> Option<&'a Grade> {
    let mut counts: BTreeMap<&str, (usize, &'a Grade)> = BTreeMap::new();
    for g in grades.iter().flatten() {
        if let Some(class) = g.class.as_deref() {
            counts.entry(class).or_insert((0, g)).0 += 1;
        }
    }
    let best = counts.values().map(|(n, _)| *n).max()?;
    let leaders: Vec<&'a Grade> = counts
        .values()
        .filter(|(n, _)| *n == best)
        .map(|(_, g)| *g)
        .collect();
    (leaders.len() == 1).then(|| leaders[0])
}

/// Share of agents whose answers fall in the most common class.
pub fn agreement(grades: &[Option<&Grade>]) -> f64 {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for g in grades.iter().flatten() {
        if let Some(class) = g.class.as_deref() {
            *counts.entry(class).or_default() += 1;
        }
    }
    counts.values().copied().max().unwrap_or(0) as f64 / grades.len().max(1) as f64
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentAnswer {
    pub agent: usize,
    pub model: String,
    pub answer: String,
    /// What the grader read (the value or phrase), for the table.
    pub extracted: Option<String>,
    /// `Some(true)` only for a `correct` grade; `unclear` counts as not correct.
    pub correct: Option<bool>,
    pub grade: Option<Grade>,
    /// Set when the other agents' answers were summarised for this agent's prompt.
    pub summary_seen: Option<String>,
    pub error: Option<String>,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: usize,
    pub answers: Vec<AgentAnswer>,
    /// The majority class's reading ("5 hours"), `None` on a tie.
    pub majority: Option<String>,
    pub majority_grade: Option<Grade>,
    pub agreement: f64,
}

impl Round {
    /// A round's answers with their majority and agreement (an errored answer does not vote).
    pub fn new(round: usize, answers: Vec<AgentAnswer>) -> Self {
        let grades: Vec<Option<&Grade>> = answers
            .iter()
            .filter(|a| a.error.is_none())
            .map(|a| a.grade.as_ref())
            .collect();
        let winner = majority(&grades).cloned();
        let agreement = agreement(&grades);
        Self {
            round,
            majority: winner.as_ref().and_then(|g| g.read.clone()),
            majority_grade: winner,
            agreement,
            answers,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    pub single_answer: Option<String>,
    pub single_correct: Option<bool>,
    pub single_grade: Option<Grade>,
    pub self_consistency_answer: Option<String>,
    pub self_consistency_correct: Option<bool>,
    pub self_consistency_grade: Option<Grade>,
    pub samples: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub question: String,
    pub reference: Option<Reference>,
    pub rounds: Vec<Round>,
    pub final_answer: Option<String>,
    pub final_text: String,
    pub final_correct: Option<bool>,
    pub final_grade: Option<Grade>,
    pub majority_answer: Option<String>,
    pub majority_correct: Option<bool>,
    pub correct: Option<bool>,
    pub baselines: Option<Baselines>,
    pub cancelled: bool,
    pub error: Option<String>,
    pub millis: u64,
    pub completion_tokens: u64,
    /// Prompt tokens of every call for this question, as the backend counted them: where the
    /// time goes on a small machine (prompt processing does not gain from batching).
    pub prompt_tokens: u64,
    /// Of those, the ones the backend served from its prompt cache instead of evaluating them.
    pub cached_prompt_tokens: u64,
    /// Summed time to first token of those calls (on the embedded backend: prompt processing).
    pub first_token_ms: u64,
}

impl QuestionResult {
    /// A question before any answer: no rounds, no grades, no time spent.
    pub fn new(question: &Question) -> Self {
        Self {
            question: question.text.clone(),
            reference: question.reference.clone(),
            rounds: Vec::new(),
            final_answer: None,
            final_text: String::new(),
            final_correct: None,
            final_grade: None,
            majority_answer: None,
            majority_correct: None,
            correct: None,
            baselines: None,
            cancelled: false,
            error: None,
            millis: 0,
            completion_tokens: 0,
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            first_token_ms: 0,
        }
    }
}

struct Call<'a> {
    backend: &'a dyn ChatBackend,
    cancel: &'a CancellationToken,
    temperature: f64,
    max_tokens: u32,
    prompt_tokens: std::sync::atomic::AtomicU64,
    cached_prompt_tokens: std::sync::atomic::AtomicU64,
    first_token_ms: std::sync::atomic::AtomicU64,
}

impl Call<'_> {
    async fn ask(
        &self,
        model: &str,
        messages: Vec<Message>,
        seed: u64,
    ) -> Result<(String, u64), LlmError> {
        let req = ChatRequest {
            model: Some(model.to_string()),
            messages,
            temperature: Some(self.temperature),
            seed: Some(seed),
            max_tokens: Some(self.max_tokens),
            top_p: None,
        };
        let r = self.backend.chat(&req, &|_| {}, self.cancel).await?;
        use std::sync::atomic::Ordering::Relaxed;
        self.prompt_tokens
            .fetch_add(r.usage.prompt_tokens.unwrap_or(0), Relaxed);
        self.cached_prompt_tokens
            .fetch_add(r.usage.cached_prompt_tokens.unwrap_or(0), Relaxed);
        self.first_token_ms
            .fetch_add(r.timing.first_token_ms.unwrap_or(0.0) as u64, Relaxed);
        Ok((r.text, r.usage.completion_tokens.unwrap_or(0)))
    }
}

impl Call<'_> {
    /// Grade an answer; an `unclear` grade goes to the judge model when there is one.
    async fn grade(&self, spec: &DebateSpec, question: &Question, text: &str) -> Grade {
        let mut g = grade(text, question.reference.as_ref());
        if let (Some(Verdict::Unclear), Some(judge), Some(reference)) =
            (g.verdict, &spec.judge, &question.reference)
        {
            let req = ChatRequest {
                model: Some(judge.clone()),
                messages: vec![Message::user(settle_prompt(
                    &question.text,
                    reference,
                    text,
                ))],
                temperature: Some(0.0),
                seed: Some(0),
                max_tokens: Some(16),
                top_p: None,
            };
            if let Ok(r) = self.backend.chat(&req, &|_| {}, self.cancel).await {
                if let Some(v) = parse_settlement(&r.text) {
                    g.verdict = Some(v);
                    g.settled_by = Some(format!("judge {judge}"));
                }
            }
        }
        g
    }
}

/// What the judge is asked when the grader cannot tell.
pub fn settle_prompt(question: &str, reference: &Reference, answer: &str) -> String {
    format!(
        "You are grading an answer to a quiz question.\n\nQuestion: {question}\nReference answer: {}\n\nAnswer to grade:\n```\n{}\n```\n\nDoes the answer's final conclusion match the reference answer? Reply with exactly one word: CORRECT, WRONG or UNCLEAR.",
        reference.describe(),
        answer.trim()
    )
}

/// The judge's one-word reply; `None` when it says UNCLEAR or something else.
pub fn parse_settlement(reply: &str) -> Option<Verdict> {
    let word: String = reply
        .trim_start_matches(|c: char| !c.is_alphabetic())
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_uppercase();
    match word.as_str() {
        "CORRECT" => Some(Verdict::Correct),
        "WRONG" | "INCORRECT" => Some(Verdict::Wrong),
        _ => None,
    }
}

fn seed_for(base: u64, question: usize, agent: usize, round: usize) -> u64 {
    base.wrapping_add((question as u64) * 1_000_003 + (agent as u64) * 1_009 + round as u64)
}

/// Run every question; questions run concurrently, and within a round all agents at once.
/// `on_round` is told (question, round) as each round finishes.
pub async fn run_debate(
    backend: Arc<dyn ChatBackend>,
    spec: &DebateSpec,
    cancel: &CancellationToken,
    on_round: &(dyn Fn(usize, usize) + Send + Sync),
) -> Vec<QuestionResult> {
    let tasks = spec
        .questions
        .iter()
        .enumerate()
        .map(|(qi, q)| run_question(backend.as_ref(), spec, qi, q, cancel, on_round));
    join_all(tasks).await
}

async fn run_question(
    backend: &dyn ChatBackend,
    spec: &DebateSpec,
    qi: usize,
    question: &Question,
    cancel: &CancellationToken,
    on_round: &(dyn Fn(usize, usize) + Send + Sync),
) -> QuestionResult {
    let t0 = Instant::now();
    let call = Call {
        backend,
        cancel,
        temperature: spec.temperature,
        max_tokens: spec.max_tokens,
        prompt_tokens: Default::default(),
        cached_prompt_tokens: Default::default(),
        first_token_ms: Default::default(),
    };
    let reference = question.reference.as_ref();
    let mut histories: Vec<Vec<Message>> = vec![Vec::new(); spec.agents];
    let mut rounds: Vec<Round> = Vec::new();
    let mut result = QuestionResult::new(question);
    for r in 0..spec.rounds {
        let prev: Option<Vec<String>> = rounds
            .last()
            .map(|round| round.answers.iter().map(|a| a.answer.clone()).collect());
        let agent_calls = (0..spec.agents).map(|a| {
            let mut messages = histories[a].clone();
            let call = &call;
            let prev = prev.clone();
            async move {
                let mut summary_seen = None;
                let prompt = match &prev {
                    None => first_prompt(&question.text),
                    Some(prev) => {
                        // Only the *other* agents' previous-round answers.
                        let mut others: Vec<String> = prev
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| *i != a)
                            .map(|(_, t)| t.clone())
                            .collect();
                        if needs_summary(&others, spec.summary_threshold_chars) {
                            let s = call
                                .ask(
                                    spec.model_for(a),
                                    vec![Message::user(summary_prompt(&others))],
                                    seed_for(spec.seed, qi, a, r) ^ 0x5eed,
                                )
                                .await?;
                            summary_seen = Some(s.0.clone());
                            others = vec![s.0];
                        }
                        update_prompt(&others, spec.prompt)
                    }
                };
                messages.push(Message::user(prompt));
                fit_history(&mut messages, spec.prompt_budget_chars);
                let (text, tokens) = call
                    .ask(
                        spec.model_for(a),
                        messages.clone(),
                        seed_for(spec.seed, qi, a, r),
                    )
                    .await?;
                messages.push(Message::assistant(text.clone()));
                Ok::<_, LlmError>((messages, text, tokens, summary_seen))
            }
        });
        let outcomes = join_all(agent_calls).await;
        let mut answers = Vec::new();
        for (a, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok((messages, text, tokens, summary_seen)) => {
                    histories[a] = messages;
                    let g = call.grade(spec, question, &text).await;
                    result.completion_tokens += tokens;
                    answers.push(AgentAnswer {
                        agent: a + 1,
                        model: spec.model_for(a).to_string(),
                        answer: text,
                        extracted: g.read.clone(),
                        correct: reference.map(|_| g.is_correct()),
                        grade: Some(g),
                        summary_seen,
                        error: None,
                        completion_tokens: tokens,
                    });
                }
                Err(LlmError::Cancelled { .. }) => {
                    result.cancelled = true;
                    answers.push(AgentAnswer {
                        agent: a + 1,
                        model: spec.model_for(a).to_string(),
                        answer: String::new(),
                        extracted: None,
                        // Not graded: a cancelled answer is neither right nor wrong.
                        correct: None,
                        grade: None,
                        summary_seen: None,
                        error: Some("cancelled".into()),
                        completion_tokens: 0,
                    });
                }
                Err(e) => {
                    result.error.get_or_insert_with(|| e.to_string());
                    answers.push(AgentAnswer {
                        agent: a + 1,
                        model: spec.model_for(a).to_string(),
                        answer: String::new(),
                        extracted: None,
                        correct: reference.map(|_| false),
                        grade: None,
                        summary_seen: None,
                        error: Some(e.to_string()),
                        completion_tokens: 0,
                    });
                }
            }
        }
        if result.cancelled {
            // Keep the answers that finished before the interrupt, beside the cancelled ones.
            if answers.iter().any(|a| a.error.is_none()) {
                rounds.push(Round::new(r + 1, answers));
            }
            break;
        }
        rounds.push(Round::new(r + 1, answers));
        on_round(qi, r + 1);
        if result.error.is_some() {
            break;
        }
    }
    result.rounds = rounds.clone();
    if let Some(last) = rounds.last() {
        result.majority_answer = last.majority.clone();
        // The majority is correct when its class is graded correct; a tie is not.
        result.majority_correct =
            reference.map(|_| last.majority_grade.as_ref().is_some_and(Grade::is_correct));
    }
    if !result.cancelled && result.error.is_none() && rounds.len() == spec.rounds {
        let all: Vec<Vec<String>> = rounds
            .iter()
            .map(|r| r.answers.iter().map(|a| a.answer.clone()).collect())
            .collect();
        let prompt = final_prompt(&question.text, &all, spec.prompt_budget_chars);
        match call
            .ask(
                &spec.final_model,
                vec![Message::user(prompt)],
                seed_for(spec.seed, qi, 999, 999),
            )
            .await
        {
            Ok((text, tokens)) => {
                result.completion_tokens += tokens;
                let g = call.grade(spec, question, &text).await;
                result.final_answer = g.read.clone();
                result.final_correct = reference.map(|_| g.is_correct());
                result.final_grade = Some(g);
                result.final_text = text;
            }
            Err(LlmError::Cancelled { .. }) => result.cancelled = true,
            Err(e) => result.error = Some(e.to_string()),
        }
        result.correct = result.final_correct;
    }
    if spec.baselines && !result.cancelled && result.error.is_none() {
        result.baselines = Some(baselines(&call, spec, qi, question).await);
    }
    result.millis = t0.elapsed().as_millis() as u64;
    result.prompt_tokens = call.prompt_tokens.into_inner();
    result.cached_prompt_tokens = call.cached_prompt_tokens.into_inner();
    result.first_token_ms = call.first_token_ms.into_inner();
    result
}

/// A single agent, and self-consistency with as many samples as the debate made calls.
async fn baselines(
    call: &Call<'_>,
    spec: &DebateSpec,
    qi: usize,
    question: &Question,
) -> Baselines {
    let reference = question.reference.as_ref();
    let samples = spec.agents * spec.rounds;
    let model = spec.model_for(0);
    let asks = (0..=samples).map(|i| {
        call.ask(
            model,
            vec![Message::user(first_prompt(&question.text))],
            seed_for(spec.seed, qi, 500 + i, 0),
        )
    });
    let answers = join_all(asks).await;
    let mut graded: Vec<Grade> = Vec::new();
    for (text, _) in answers.into_iter().filter_map(Result::ok) {
        graded.push(call.grade(spec, question, &text).await);
    }
    let single = (!graded.is_empty()).then(|| graded.remove(0));
    let votes: Vec<Option<&Grade>> = graded.iter().map(Some).collect();
    let sc = majority(&votes).cloned();
    Baselines {
        single_answer: single.as_ref().and_then(|g| g.read.clone()),
        single_correct: reference.map(|_| single.as_ref().is_some_and(Grade::is_correct)),
        single_grade: single,
        self_consistency_answer: sc.as_ref().and_then(|g| g.read.clone()),
        self_consistency_correct: reference.map(|_| sc.as_ref().is_some_and(Grade::is_correct)),
        self_consistency_grade: sc,
        samples: graded.len(),
    }
}

/// Accuracy of each round (share of agent answers that are correct), over questions with a reference.
pub fn accuracy_by_round(results: &[QuestionResult], rounds: usize) -> Vec<Option<f64>> {
    (0..rounds)
        .map(|r| {
            let graded: Vec<bool> = results
                .iter()
                .filter_map(|q| q.rounds.get(r))
                .flat_map(|round| round.answers.iter().filter_map(|a| a.correct))
                .collect();
            (!graded.is_empty())
                .then(|| graded.iter().filter(|c| **c).count() as f64 / graded.len() as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_prompt_holds_only_what_it_is_given() {
        let p = update_prompt(&["Answer: 5050".to_string()], PromptStyle::Long);
        assert!(p.starts_with("These are the solutions to the problem from other agents:"));
        assert!(p.contains("One agent solution: ```Answer: 5050```"));
        assert!(p.contains("additional advice"));
        let s = update_prompt(&["a".into(), "b".into()], PromptStyle::Short);
        assert!(s.contains("Based off the opinion of other agents"));
        assert_eq!(s.matches("One agent solution").count(), 2);
    }

    #[test]
    fn majority_votes_over_answer_classes_not_strings() {
        let shirts = course_suite()[2].reference.clone();
        let g = |t: &str| grade(t, shirts.as_ref());
        let (a, b, c) = (
            g("Answer: 5 hours"),
            g("Answer: five hours"),
            g("Answer: 10 hours"),
        );
        let winner = majority(&[Some(&a), Some(&b), Some(&c)]).unwrap();
        assert!(winner.is_correct());
        assert_eq!(majority(&[Some(&a), Some(&c)]), None);
        assert_eq!(majority(&[None, None]), None);
        assert!((agreement(&[Some(&a), Some(&b), Some(&c), None]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn judge_settlement_replies() {
        assert_eq!(parse_settlement("CORRECT"), Some(Verdict::Correct));
        assert_eq!(parse_settlement("**Wrong**."), Some(Verdict::Wrong));
        assert_eq!(parse_settlement("UNCLEAR"), None);
        assert_eq!(parse_settlement(""), None);
    }

    #[test]
    fn summarisation_trigger() {
        let short = vec!["Answer: 5".to_string(); 2];
        assert!(!needs_summary(&short, 6000));
        let long = vec!["x".repeat(4000), "y".repeat(4000)];
        assert!(needs_summary(&long, 6000));
        assert!(summary_prompt(&long).contains("Solution 2"));
    }

    #[test]
    fn history_is_trimmed_oldest_first_keeping_question_and_newest_prompt() {
        let mut h = vec![
            Message::user("question"),
            Message::assistant("a".repeat(100)),
            Message::user("update 1"),
            Message::assistant("b".repeat(100)),
            Message::user("update 2"),
        ];
        fit_history(&mut h, 150);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].content, "question");
        assert!(h[1].content.starts_with('b'));
        assert_eq!(h[2].content, "update 2");
    }

    #[test]
    fn final_prompt_shrinks_to_fit_quoting_the_agents_not_the_grader() {
        let long = |c: char, last: &str| format!("{}\nAnswer: {last}", c.to_string().repeat(3000));
        let rounds = vec![vec![long('x', "5000 I think"), long('y', "a valid plan")]; 3];
        let full = final_prompt("Q?", &rounds, 100_000);
        assert!(full.len() > 18_000);
        let small = final_prompt("Q?", &rounds, 4000);
        assert!(small.len() <= 4000, "{}", small.len());
        assert!(
            small.contains("Agent 1 concluded: \"5000 I think\""),
            "{small}"
        );
        assert!(small.contains("Agent 2 concluded: \"a valid plan\""));
        // Non-ASCII answers are cut on character boundaries.
        let rounds = vec![vec!["İ".repeat(5000)]; 2];
        let _ = final_prompt("Q?", &rounds, 3000);
    }

    #[test]
    fn course_suite_has_five_references() {
        let s = course_suite();
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|q| q.reference.is_some()));
    }

    #[test]
    fn calls_are_counted() {
        let spec = DebateSpec {
            questions: course_suite(),
            agents: 2,
            rounds: 3,
            models: vec!["m".into()],
            final_model: "m".into(),
            prompt: PromptStyle::Long,
            temperature: 0.7,
            max_tokens: 256,
            seed: 0,
            baselines: true,
            judge: None,
            summary_threshold_chars: 6000,
            prompt_budget_chars: 12000,
        };
        assert_eq!(spec.total_calls(), 5 * (7 + 7));
        assert_eq!(spec.model_for(3), "m");
    }
}
