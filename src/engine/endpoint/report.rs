//! `POST /alignment-lab/report`: a student's own debate pipeline, graded with `:debate`'s grader
//! and drawn with its table and plot in the running cell, beside the session's latest `:debate`
//! run when there is one. The body is a `lab::transcript::StudentTranscript`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{error_response, Shared};
use crate::lab::course::Question;
use crate::lab::debate::{accuracy_by_round, DebateSpec, PromptStyle};
use crate::lab::transcript::{check, grade_transcript, shape, StudentTranscript};
use crate::magics::debate::{comparison_bundle, detail_bundles, summary_bundle, DebateOutcome};

pub(super) async fn report(
    State(shared): State<Arc<Shared>>,
    body: Json<StudentTranscript>,
) -> Response {
    let transcript = body.0;
    if let Err(e) = check(&transcript) {
        return error_response(StatusCode::BAD_REQUEST, &e);
    }
    let models = if transcript.models.is_empty() {
        // The pipeline used the session's default model unless it named others.
        match shared.backend.get().await {
            Ok((backend, _)) => backend.default_model().await.ok().into_iter().collect(),
            Err(_) => Vec::new(),
        }
    } else {
        transcript.models.clone()
    };
    let mut transcript = transcript;
    transcript.models = models.clone();
    let results = grade_transcript(&transcript);
    let (agents, rounds) = shape(&transcript);
    let label = transcript
        .label
        .clone()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "your pipeline".into());
    let outcome = DebateOutcome {
        label: label.clone(),
        spec: DebateSpec {
            questions: results
                .iter()
                .map(|q| Question {
                    text: q.question.clone(),
                    reference: q.reference.clone(),
                })
                .collect(),
            agents,
            rounds,
            final_model: models.first().cloned().unwrap_or_default(),
            models: if models.is_empty() {
                vec!["session default".into()]
            } else {
                models
            },
            // The remaining settings are the student's own; the report does not show them.
            prompt: PromptStyle::Long,
            temperature: 0.0,
            max_tokens: 0,
            seed: 0,
            baselines: false,
            judge: None,
            summary_threshold_chars: 0,
            prompt_budget_chars: 0,
        },
        accuracy_by_round: accuracy_by_round(&results, rounds),
        results,
    };
    let graded = outcome
        .results
        .iter()
        .filter(|q| q.reference.is_some())
        .count();
    let right = |f: fn(&crate::lab::debate::QuestionResult) -> Option<bool>| {
        outcome
            .results
            .iter()
            .filter(|q| f(q) == Some(true))
            .count()
    };
    let mut record = json!({
        "kind": "debate-transcript",
        "label": label,
        "models": outcome.spec.models,
        "agents": agents,
        "rounds": rounds,
        "questions": outcome.results,
        "accuracy_by_round": outcome.accuracy_by_round,
    });
    match crate::magics::write_run_record(&shared.home, "debate-transcript", &record) {
        Ok(p) => record["record_path"] = json!(p.display().to_string()),
        Err(e) => record["record_error"] = json!(e),
    }
    let answer = json!({
        "graded": graded,
        "final_correct": right(|q| q.final_correct),
        "majority_correct": right(|q| q.majority_correct),
        "accuracy_by_round": outcome.accuracy_by_round,
        "record_path": record.get("record_path"),
    });
    let sink = shared.cell.lock().expect("cell lock").sink.clone();
    if let Some(sink) = sink {
        sink.display(
            summary_bundle(&outcome, &format!("Results of {label}")).with_record(record),
            None,
        );
        for bundle in detail_bundles(&outcome) {
            sink.display(bundle, None);
        }
        if let Some(magic) = shared.debates.put_student(outcome.clone()) {
            sink.display(comparison_bundle(&outcome, &magic), None);
        }
    } else {
        shared.debates.put_student(outcome);
    }
    Json(answer).into_response()
}
