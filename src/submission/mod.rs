//! From a student's notebook to a lecturer's table: `check` (ready to hand in?), `export`
//! (HTML + PDF + manifest in one folder and zip) and `aggregate` (class results). These read
//! saved notebooks only; nothing here talks to Jupyter or to a model.

pub mod aggregate;
pub mod check;
pub mod export;
pub mod notebook;

pub use check::{check, CheckOptions, CheckReport};
pub use notebook::Notebook;
