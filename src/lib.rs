//! Alignment Lab: a Rust Jupyter kernel (on evcxr) whose magics run AI-alignment course
//! exercises against local language models.
//!
//! Data flows top to bottom: `kernel` (Jupyter wire protocol) → `engine` (a cell: magic or
//! Rust) → `magics` (flag parsing, orchestration) → `llm` (backends) and `display` (bundles).
//! `kernel` never touches `llm`; `llm` knows nothing of Jupyter.

pub mod bench;
pub mod display;
pub mod engine;
pub mod kernel;
pub mod lab;
pub mod llm;
pub mod magics;
pub mod reveal;
pub mod submission;
pub mod toolchain;

/// The client Rust cells compile (the kernel ships `cells/` as source and evcxr builds it),
/// compiled into the kernel too: the benchmark measures the endpoint through it, and a test
/// keeps its course-question table equal to the kernel's.
#[allow(dead_code)]
#[path = "../cells/src/lib.rs"]
pub(crate) mod cells_client;
