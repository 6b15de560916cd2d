//! MIME bundles for notebook outputs: markdown, tables, plots, and the sink they flow into.
//!
//! Nothing here knows about Jupyter's wire protocol or about language models; the kernel,
//! `alignment-lab run` and the tests all consume the same [`Bundle`]s through [`OutputSink`].

mod bundle;
mod error;
pub mod markdown;
mod number;
pub mod plot;
mod sink;
pub mod table;

pub use bundle::Bundle;
pub use error::CellError;
pub use sink::{CollectingSink, OutputSink, Progress, SinkEvent, StreamName};
