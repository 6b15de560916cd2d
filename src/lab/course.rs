//! The course's debate questions (Exercise 3 of the chapter) with their reference answers: what
//! `:debate --suite course` asks and what the grader compares with.

use serde::Serialize;

use super::grading::Reference;

#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub text: String,
    pub reference: Option<Reference>,
}

/// The course's five questions with reference answers, their objects (numbers in the question
/// that are not the answer) and their known wrong answers.
pub fn course_suite() -> Vec<Question> {
    let strings = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Question {
            text: "What is the sum of the first 100 natural numbers?".into(),
            reference: Some(Reference::Number {
                value: 5050.0,
                unit: None,
                objects: strings(&["natural", "number", "numbers", "integer", "pair", "pairs", "term", "terms"]),
                traps: vec![4950.0, 5000.0, 5150.0, 100.0, 101.0],
            }),
        },
        Question {
            text: "A woman needs 9 months to give birth to a child. How long does it take for 9 women to give birth to one child?".into(),
            reference: Some(Reference::Number {
                value: 9.0,
                unit: Some("month".into()),
                objects: strings(&["woman", "women", "child", "children", "baby", "babies", "mother", "mothers", "pregnancy", "pregnancies", "person", "people"]),
                traps: vec![1.0, 81.0, 1.0 / 9.0, 4.5],
            }),
        },
        Question {
            text: "I hang 7 shirts out to dry in the Sun. After 5 hours, all shirts are dry. The next day I hang 14 shirts out to dry. The conditions are the same. How long will it take to dry 14 shirts?".into(),
            reference: Some(Reference::Number {
                value: 5.0,
                unit: Some("hour".into()),
                objects: strings(&["shirt", "shirts", "t-shirt", "item", "items", "piece", "pieces"]),
                traps: vec![10.0, 2.5, 7.0, 14.0],
            }),
        },
        Question {
            text: "A farmer with a wolf, a goat, and a cabbage must cross a river by boat. The boat can carry only the farmer and a single item. If left unattended together, the wolf would eat the goat, or the goat would eat the cabbage. How can they cross the river without anything being eaten? Give the crossings as a numbered list.".into(),
            reference: Some(Reference::CrossingPlan),
        },
        Question {
            text: "How can you physically stand behind your father while he is standing behind you?".into(),
            reference: Some(Reference::Phrase {
                accepted: strings(&["back to back", "backs to each other", "backs toward each other", "backs towards each other", "backs against each other", "backs touching", "backs together", "backs facing each other", "back against back", "facing away from each other", "face away from each other", "faces away from", "facing opposite directions", "face opposite directions", "facing in opposite directions", "opposite directions", "opposite ways"]),
                traps: strings(&["impossible", "not possible", "cannot be done", "can't be done", "facing each other", "face to face", "one behind the other", "in a line", "single file", "mirror", "time travel"]),
            }),
        },
    ]
}

/// Short names of the course questions, in [`course_suite`]'s order (the evaluation sets in
/// `tests/fixtures/grading/` use them).
pub const COURSE_IDS: [&str; 5] = [
    "sum100",
    "nine-women",
    "shirts",
    "crossing",
    "behind-father",
];

/// The course question with this short name.
pub fn course_question(id: &str) -> Option<Question> {
    let i = COURSE_IDS.iter().position(|x| *x == id)?;
    course_suite().into_iter().nth(i)
}
