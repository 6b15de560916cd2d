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
