//! The experiments of the course, with no Jupyter inside: the probe (strategies, refusal
//! classifier, judge), the debate (course questions, grader, crossing-plan validator), the RLHF
//! cards and simulations, and the statistics they share.

pub mod course;
pub mod crossing;
pub mod debate;
pub mod fingerprint;
pub mod grading;
pub mod judge;
pub mod probe;
pub mod refusal;
pub mod rlhf;
pub mod stats;
pub mod strategies;
pub mod transcript;
