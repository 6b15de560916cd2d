use clap::Parser;

use super::{parse_flags, MagicCall, MagicContext, MAGICS};
use crate::display::{markdown::escape_table_cell, Bundle, CellError};

/// List the magics of this kernel.
#[derive(Parser, Debug)]
#[command(
    name = ":help",
    about = "List the magics of this kernel, one line each, with an example"
)]
pub struct HelpArgs {}

/// evcxr's own commands still work in Rust cells; name the common ones.
const EVCXR_COMMANDS: &[(&str, &str)] = &[
    (":dep", "add a crate dependency, e.g. `:dep serde = \"1\"`"),
    (":vars", "list the variables defined so far"),
    (":clear", "forget all variables and items"),
    (":opt", "set the optimisation level of compiled cells"),
];

pub fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    if parse_flags::<HelpArgs>(call.name, call.flags, ctx.sink.as_ref())?.is_none() {
        return Ok(());
    }
    let mut md = String::from("**Alignment Lab magics** — the first line of a cell; the rest of the cell is the body. Every magic takes `--help`.\n\n| magic | what it does | example |\n| --- | --- | --- |\n");
    let mut plain = String::from("Alignment Lab magics (each takes --help):\n");
    for m in MAGICS {
        let example = m.example.replace('\n', " ⏎ ");
        md.push_str(&format!(
            "| `:{}` | {} | `{}` |\n",
            m.name,
            m.summary,
            escape_table_cell(&example)
        ));
        plain.push_str(&format!(
            "  :{:<10} {}   e.g. {}\n",
            m.name, m.summary, example
        ));
    }
    md.push_str("\nRust cells run on evcxr; its commands work as usual: ");
    plain.push_str("Rust cells run on evcxr; its commands work as usual:\n");
    md.push_str(
        &EVCXR_COMMANDS
            .iter()
            .map(|(c, what)| format!("`{c}` ({what})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    md.push('.');
    for (c, what) in EVCXR_COMMANDS {
        plain.push_str(&format!("  {c:<10} {what}\n"));
    }
    ctx.sink.display(
        Bundle::plain(plain)
            .with("text/markdown", md)
            .with_record(serde_json::json!({
                "kind": "help",
                "magics": MAGICS.iter().map(|m| m.name).collect::<Vec<_>>(),
            })),
        None,
    );
    Ok(())
}
