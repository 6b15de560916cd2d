//! A debate a student ran in their own code (Exercise 3 in Rust cells), graded the way `:debate`
//! grades its own: every agent's answer in every round and the final answer go through the same
//! grader, and rounds get the same majority and agreement, so the two can be shown with the same
//! table and plot and compared side by side.

use serde::{Deserialize, Serialize};

use super::course::{course_question, Question};
use super::debate::{AgentAnswer, QuestionResult, Round};
use super::grading::{grade, Grade};

/// What the student's pipeline produced, as the client crate sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StudentTranscript {
    /// The student's name for the pipeline ("2 agents, chapter prompt").
    #[serde(default)]
    pub label: Option<String>,
    /// The models the agents used, cycled over agents like `:debate --models`; empty: unknown.
    #[serde(default)]
    pub models: Vec<String>,
    pub questions: Vec<StudentQuestion>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StudentQuestion {
    /// A course question id ("sum100", …) or, for a question of the student's own, its text
    /// (graded against nothing).
    pub question: String,
    /// Per round, one answer per agent, in agent order.
    pub rounds: Vec<Vec<String>>,
    #[serde(default)]
    pub final_answer: Option<String>,
}

/// The shape of a transcript: the most agents in any round and the most rounds of any question.
pub fn shape(t: &StudentTranscript) -> (usize, usize) {
    let agents = t
        .questions
        .iter()
        .flat_map(|q| q.rounds.iter().map(Vec::len))
        .max()
        .unwrap_or(0);
    let rounds = t
        .questions
        .iter()
        .map(|q| q.rounds.len())
        .max()
        .unwrap_or(0);
    (agents, rounds)
}

/// Why a transcript cannot be graded, said so a student can fix the call.
pub fn check(t: &StudentTranscript) -> Result<(), String> {
    if t.questions.is_empty() {
        return Err("the transcript holds no questions: record rounds with `round(&question, answers)` before `show()`".into());
    }
    for q in &t.questions {
        if q.rounds.is_empty() {
            return Err(format!(
                "question `{}` has no rounds: record each round's answers with `round(&question, answers)`",
                q.question
            ));
        }
        if let Some((i, _)) = q.rounds.iter().enumerate().find(|(_, r)| r.is_empty()) {
            return Err(format!(
                "round {} of question `{}` holds no answers",
                i + 1,
                q.question
            ));
        }
    }
    Ok(())
}

/// Grade every answer with the shared grader and build the results `:debate` renders.
pub fn grade_transcript(t: &StudentTranscript) -> Vec<QuestionResult> {
    t.questions
        .iter()
        .map(|q| {
            let question = course_question(&q.question).unwrap_or_else(|| Question {
                text: q.question.clone(),
                reference: None,
            });
            let model_for = |agent: usize| {
                if t.models.is_empty() {
                    format!("agent {}", agent + 1)
                } else {
                    t.models[agent % t.models.len()].clone()
                }
            };
            let rounds: Vec<Round> = q
                .rounds
                .iter()
                .enumerate()
                .map(|(r, answers)| {
                    let answers = answers
                        .iter()
                        .enumerate()
                        .map(|(a, text)| {
                            let g = grade(text, question.reference.as_ref());
                            AgentAnswer {
                                agent: a + 1,
                                model: model_for(a),
                                answer: text.clone(),
                                extracted: g.read.clone(),
                                correct: question.reference.as_ref().map(|_| g.is_correct()),
                                grade: Some(g),
                                summary_seen: None,
                                error: None,
                                completion_tokens: 0,
                            }
                        })
                        .collect();
                    Round::new(r + 1, answers)
                })
                .collect();
            let reference = question.reference.as_ref();
            let final_grade: Option<Grade> =
                q.final_answer.as_ref().map(|text| grade(text, reference));
            let last = rounds.last();
            let mut result = QuestionResult::new(&question);
            result.majority_answer = last.and_then(|r| r.majority.clone());
            result.majority_correct = reference.map(|_| {
                last.and_then(|r| r.majority_grade.as_ref())
                    .is_some_and(Grade::is_correct)
            });
            result.final_answer = final_grade.as_ref().and_then(|g| g.read.clone());
            result.final_text = q.final_answer.clone().unwrap_or_default();
            // A missing final answer shows as "(no answer)" and counts as not correct.
            result.final_correct =
                reference.map(|_| final_grade.as_ref().is_some_and(Grade::is_correct));
            result.correct = result.final_correct;
            result.final_grade = final_grade;
            result.rounds = rounds;
            result
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(rounds: Vec<Vec<&str>>, final_answer: Option<&str>) -> StudentTranscript {
        StudentTranscript {
            label: Some("mine".into()),
            models: vec![],
            questions: vec![StudentQuestion {
                question: "shirts".into(),
                rounds: rounds
                    .into_iter()
                    .map(|r| r.into_iter().map(String::from).collect())
                    .collect(),
                final_answer: final_answer.map(String::from),
            }],
        }
    }

    #[test]
    fn grades_rounds_and_final_answer_like_debate() {
        let t = transcript(
            vec![
                vec![
                    "14 shirts take twice as long. Answer: 10 hours",
                    "They dry in parallel. Answer: 5 hours",
                ],
                vec![
                    "You are right, drying is parallel. Answer: 5 hours",
                    "Answer: 5 hours",
                ],
            ],
            Some("Both agents agree the shirts dry at once. Final answer: 5 hours"),
        );
        check(&t).unwrap();
        assert_eq!(shape(&t), (2, 2));
        let results = grade_transcript(&t);
        let q = &results[0];
        assert_eq!(q.rounds[0].answers[0].correct, Some(false));
        assert_eq!(q.rounds[0].answers[1].correct, Some(true));
        assert_eq!(q.rounds[0].agreement, 0.5);
        assert_eq!(q.rounds[1].agreement, 1.0);
        assert_eq!(q.majority_correct, Some(true));
        assert_eq!(q.final_correct, Some(true));
        assert_eq!(q.rounds[1].answers[0].model, "agent 1");
    }

    #[test]
    fn a_missing_final_answer_is_not_correct() {
        let t = transcript(vec![vec!["Answer: 5 hours", "Answer: 5 hours"]], None);
        let q = &grade_transcript(&t)[0];
        assert_eq!(q.final_correct, Some(false));
        assert!(q.final_grade.is_none());
        assert_eq!(q.majority_correct, Some(true));
    }

    #[test]
    fn own_questions_are_shown_but_not_graded() {
        let mut t = transcript(vec![vec!["Answer: blue"]], Some("Answer: blue"));
        t.questions[0].question = "What colour is the sky?".into();
        let q = &grade_transcript(&t)[0];
        assert_eq!(q.question, "What colour is the sky?");
        assert_eq!(q.final_correct, None);
        assert_eq!(q.rounds[0].answers[0].correct, None);
    }

    #[test]
    fn empty_transcripts_and_rounds_are_refused_with_a_reason() {
        let empty = StudentTranscript {
            label: None,
            models: vec![],
            questions: vec![],
        };
        assert!(check(&empty).unwrap_err().contains("no questions"));
        let t = transcript(vec![vec![]], None);
        assert!(check(&t).unwrap_err().contains("round 1"));
    }
}
