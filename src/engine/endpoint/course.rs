//! `POST /alignment-lab/grade`: the grader `:debate` uses, for a student's own pipeline in Rust
//! cells. The question is named by its course id ("sum100", …, see `lab::course::COURSE_IDS`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{error_response, Shared};
use crate::lab::course::{course_question, COURSE_IDS};
use crate::lab::grading::grade as grade_answer;

#[derive(Deserialize)]
pub(super) struct GradeRequest {
    question: String,
    answer: String,
}

pub(super) async fn grade(State(_): State<Arc<Shared>>, body: Json<GradeRequest>) -> Response {
    let Some(question) = course_question(&body.question) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!(
                "no course question `{}`; the ids are {}",
                body.question,
                COURSE_IDS.join(", ")
            ),
        );
    };
    Json(grade_answer(&body.answer, question.reference.as_ref())).into_response()
}
