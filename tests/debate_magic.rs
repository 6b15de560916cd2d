//! `:debate` against a fake server whose model answers "5000" alone and "5050" once it has seen
//! other agents' answers; the server records how many calls were in flight at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

use alignment_lab::display::{CollectingSink, SinkEvent};
use alignment_lab::engine::Engine;
use common::{conversation, fake_engine, streamed};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

#[derive(Clone, Default)]
struct Counters {
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

/// Answers as a stubborn-then-persuadable agent. wiremock calls `respond` when a request
/// arrives and waits out the delay afterwards, so "in flight" is measured with a guard that
/// expires after the delay.
struct Persuadable(Counters);

impl Respond for Persuadable {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let c = &self.0;
        c.calls.fetch_add(1, Ordering::SeqCst);
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak.fetch_max(now, Ordering::SeqCst);
        let in_flight = c.in_flight.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        let (_, all) = conversation(request);
        let answer = if all.contains("These are the solutions to the problem from other agents")
            || all.contains("debated the following question")
        {
            "Pairing 1+100, 2+99, … gives 50 pairs of 101.\nAnswer: 5050"
        } else {
            "Roughly 100 times 50.\nAnswer: 5000"
        };
        let chunk = json!({"model": "fake", "choices": [{"delta": {"content": answer}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 12}});
        ResponseTemplate::new(200)
            .set_body_raw(
                format!("data: {chunk}\n\ndata: [DONE]\n\n"),
                "text/event-stream",
            )
            .set_delay(Duration::from_millis(300))
    }
}

async fn setup(home: &std::path::Path) -> (MockServer, Engine, Counters) {
    let counters = Counters::default();
    let (server, engine) = fake_engine(home, &["fake"], Persuadable(counters.clone())).await;
    (server, engine, counters)
}

fn record(events: &[SinkEvent]) -> Value {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            SinkEvent::Display(b, _) if b.metadata.contains_key("alignment_lab") => {
                Some(Value::Object(b.metadata.clone())["alignment_lab"].clone())
            }
            _ => None,
        })
        .expect("a record")
}

#[tokio::test]
async fn agents_are_persuaded_in_round_two_and_run_concurrently() {
    let home = tempfile::tempdir().unwrap();
    let (_server, mut engine, counters) = setup(home.path()).await;
    let sink = Arc::new(CollectingSink::default());
    engine
        .execute(":debate --agents 2 --rounds 3 --seed 4\nWhat is the sum of the first 100 natural numbers?", sink.clone(), CancellationToken::new())
        .await
        .unwrap();
    let events = sink.take();
    let rec = record(&events);
    assert_eq!(rec["kind"], "debate");
    let q = &rec["questions"][0];
    let extracted = |r: usize| -> Vec<String> {
        q["rounds"][r]["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["extracted"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(extracted(0), ["5000", "5000"]);
    assert_eq!(extracted(1), ["5050", "5050"]);
    assert_eq!(extracted(2), ["5050", "5050"]);
    assert_eq!(q["final_answer"], "5050");
    assert_eq!(q["majority_answer"], "5050");
    // 2 agents × 3 rounds + the final call.
    assert_eq!(counters.calls.load(Ordering::SeqCst), 7);
    assert!(
        counters.peak.load(Ordering::SeqCst) >= 2,
        "agents never overlapped"
    );
    // A PNG plot and the transcript are shown.
    assert!(events
        .iter()
        .any(|e| matches!(e, SinkEvent::Display(b, _) if b.data.contains_key("image/png"))));
}

#[tokio::test]
async fn course_suite_with_baselines_scores_and_caches() {
    let home = tempfile::tempdir().unwrap();
    let (_server, mut engine, counters) = setup(home.path()).await;
    let cell = ":debate --suite course --baselines --seed 1";
    let sink = Arc::new(CollectingSink::default());
    engine
        .execute(cell, sink.clone(), CancellationToken::new())
        .await
        .unwrap();
    let rec = record(&sink.take());
    let qs = rec["questions"].as_array().unwrap();
    assert_eq!(qs.len(), 5);
    // The fake only knows "5000"/"5050": question 1 ends right, the rest wrong, never unscored.
    assert_eq!(qs[0]["correct"], true);
    assert_eq!(qs[1]["correct"], false);
    assert_eq!(rec["accuracy_by_round"].as_array().unwrap().len(), 3);
    assert_eq!(qs[0]["baselines"]["single_correct"], false);
    let first_calls = counters.calls.load(Ordering::SeqCst);
    assert_eq!(first_calls, 5 * 14);
    // The same cell again is answered from the cache: no new calls.
    let sink = Arc::new(CollectingSink::default());
    engine
        .execute(cell, sink.clone(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(counters.calls.load(Ordering::SeqCst), first_calls);
    let rec2 = record(&sink.take());
    assert_eq!(rec2["accounting"]["cache_hits"], 5 * 14);
    // Same answers, same scores; only the timings differ.
    let without_timing = |v: &Value| {
        let mut v = v.clone();
        for q in v.as_array_mut().unwrap() {
            q.as_object_mut().unwrap().remove("millis");
        }
        v
    };
    assert!(
        without_timing(&rec2["questions"]) == without_timing(&rec["questions"]),
        "cached run differs"
    );
}

#[tokio::test]
async fn bad_debate_input_is_specific() {
    let home = tempfile::tempdir().unwrap();
    let (_server, mut engine, _) = setup(home.path()).await;
    for (code, expect) in [
        (":debate --rounds 0\nq", "0"),
        (":debate --agents 1000\nq", "1000"),
        (":debate\n  \n---\n", "needs a question"),
        (
            ":debate --suite course --agents 8 --rounds 10 --baselines",
            "--max-calls",
        ),
    ] {
        let err = engine
            .execute(
                code,
                Arc::new(CollectingSink::default()),
                CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert!(err.evalue.contains(expect), "{code}: {}", err.evalue);
    }
}

/// Answers every course question the way a model might word it: `right` gives the correct
/// answer in awkward words, otherwise the trap answer with the right number or phrase beside it.
struct Worded {
    right: bool,
}

const PLAN_RIGHT: &str = "Step 1: Take the goat across, so the wolf is not left alone with the goat.\nStep 2: Row back empty.\nStep 3: Take the cabbage over and leave it with the wolf.\nStep 4: Bring the goat back so it is not left alone with the cabbage.\nStep 5: Take the wolf across.\nStep 6: Go back alone.\nStep 7: Take the goat across.\n\nAnswer: seven crossings, goat first and last.";
const PLAN_TRAP: &str = "1. Take the wolf across, so the goat is not left alone with the wolf.\n2. Return alone.\n3. Take the goat across.\n4. Return alone.\n5. Take the cabbage across.\n\nAnswer: the goat is never left alone with the cabbage, and everything is across in five trips.";

impl Respond for Worded {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (_, all) = conversation(request);
        let answer = match (all.contains("natural numbers"), all.contains("9 women"), all.contains("shirts"), all.contains("wolf"), self.right) {
            (true, _, _, _, true) => "Pair 1 with 100, 2 with 99 and so on.\n\n**Answer:** 5,050 (that is 100·101/2)",
            (true, _, _, _, false) => "Answer: 4,950 (5050 minus the 100 I counted twice)",
            (_, true, _, _, true) => "One pregnancy cannot be shared.\nAnswer: Still nine months: one child needs one full pregnancy, whatever the number of women.",
            (_, true, _, _, false) => "Answer: 1 month (9 months ÷ 9 women)",
            (_, _, true, _, true) => "They dry in parallel.\nAnswer: 5 hours to dry 14 shirts, if there is room to hang them all.",
            (_, _, true, _, false) => "Twice the shirts.\nAnswer: 10 hours (2 × 5 hours)",
            (_, _, _, true, true) => PLAN_RIGHT,
            (_, _, _, true, false) => PLAN_TRAP,
            (_, _, _, _, true) => "Turn around.\nAnswer: We stand back-to-back, each of us facing away from the other.",
            (_, _, _, _, false) => "Answer: Facing him, not back to back.",
        };
        streamed("fake", answer)
    }
}

async fn worded_engine(home: &std::path::Path, right: bool) -> (MockServer, Engine) {
    fake_engine(home, &["fake"], Worded { right }).await
}

/// How many of the five questions each part of the debate got right.
fn scores(rec: &Value) -> [usize; 5] {
    let qs = rec["questions"].as_array().unwrap();
    let count = |f: &dyn Fn(&Value) -> bool| qs.iter().filter(|q| f(q)).count();
    [
        // Every agent answer of every round.
        count(&|q| {
            q["rounds"].as_array().unwrap().iter().all(|r| {
                r["answers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["correct"] == true)
            })
        }),
        count(&|q| q["correct"] == true),
        count(&|q| q["majority_correct"] == true),
        count(&|q| q["baselines"]["single_correct"] == true),
        count(&|q| q["baselines"]["self_consistency_correct"] == true),
    ]
}

#[tokio::test]
async fn awkwardly_worded_right_answers_grade_five_of_five_and_traps_zero() {
    for (right, expected) in [(true, [5; 5]), (false, [0; 5])] {
        let home = tempfile::tempdir().unwrap();
        let (_server, mut engine) = worded_engine(home.path(), right).await;
        let sink = Arc::new(CollectingSink::default());
        engine
            .execute(
                ":debate --suite course --baselines --no-cache --seed 2",
                sink.clone(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        let rec = record(&sink.take());
        assert_eq!(scores(&rec), expected, "right answers: {right}\n{rec:#}");
        // Every trap answer is graded wrong, never unclear.
        if !right {
            for q in rec["questions"].as_array().unwrap() {
                assert_eq!(q["final_grade"]["verdict"], "wrong", "{q:#}");
            }
        }
    }
}

#[tokio::test]
async fn the_final_prompt_never_holds_the_graders_reading() {
    // A tiny context forces the final prompt to shorten earlier rounds: they must quote the
    // agents' own statements, not "valid plan" or a number the grader read.
    let answers = vec![vec![PLAN_RIGHT.to_string(); 2]; 3];
    let prompt = alignment_lab::lab::debate::final_prompt("Q?", &answers, 1200);
    assert!(
        prompt.contains("seven crossings, goat first and last"),
        "{prompt}"
    );
    assert!(!prompt.contains("valid plan"));
}

/// Every agent hedges between two answers; the judge model says CORRECT for the shirts question.
struct Hedging;

impl Respond for Hedging {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (body, all) = conversation(request);
        let answer = if body["model"] == "judge" {
            if all.contains("shirts") {
                "CORRECT"
            } else {
                "UNCLEAR"
            }
        } else {
            "It depends on the space on the line.\nAnswer: either 5 or 10 hours"
        };
        streamed(body["model"].as_str().unwrap_or("fake"), answer)
    }
}

#[tokio::test]
async fn a_judge_settles_unclear_grades_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let (_server, mut engine) = fake_engine(home.path(), &["fake", "judge"], Hedging).await;
    let sink = Arc::new(CollectingSink::default());
    engine
        .execute(
            ":debate --suite course --agents 2 --rounds 1 --judge judge --no-cache",
            sink.clone(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let events = sink.take();
    let rec = record(&events);
    let shirts = &rec["questions"][2];
    // Without the judge "either 5 or 10 hours" is unclear; the judge settled it, marked as such.
    assert_eq!(shirts["final_grade"]["verdict"], "correct", "{shirts:#}");
    assert_eq!(shirts["final_grade"]["settled_by"], "judge judge");
    assert_eq!(shirts["correct"], true);
    // Where the judge would not decide, the grade stays unclear and counts as not correct.
    let sum = &rec["questions"][0];
    assert_eq!(sum["final_grade"]["verdict"], "unclear", "{sum:#}");
    assert!(sum["final_grade"].get("settled_by").is_none());
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            SinkEvent::Display(b, _) | SinkEvent::Update(b, _) => {
                b.data.get("text/markdown").map(|v| v.to_string())
            }
            _ => None,
        })
        .collect();
    assert!(text.contains("settled by the judge model"), "{text}");
}
