//! The experiments of the course, with no Jupyter inside: statistics now; probes, debates and
//! the RLHF simulations build on it.

pub mod judge;
pub mod probe;
pub mod refusal;
pub mod rlhf;
pub mod stats;
pub mod strategies;
