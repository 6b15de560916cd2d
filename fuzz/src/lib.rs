//! The kernel's parsers, compiled from its own source files. Each of these files depends only on
//! std, serde, serde_json, shell-words, regex and unicode-normalization (a rule the files'
//! headers state), so the fuzzers test exactly the code the kernel runs.
#![allow(dead_code)]

#[path = "../../src/magics/cell.rs"]
pub mod cell;
#[path = "../../src/lab/judge.rs"]
pub mod judge;
#[path = "../../src/display/number.rs"]
mod number;
#[path = "../../src/llm/sse.rs"]
pub mod sse;

// The grader and the crossing validator refer to each other as `super::…`: siblings here too.
#[path = "../../src/lab/crossing.rs"]
pub mod crossing;
#[path = "../../src/lab/grading/mod.rs"]
pub mod grading;

/// `grading` formats numbers with `crate::display::table::format_float`.
pub mod display {
    pub mod table {
        pub use crate::number::format_float;
    }
}
