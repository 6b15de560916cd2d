//! Magics: a cell whose first line starts with `:name` (a name listed here) is a magic. Its
//! flags are parsed with clap — so `--help`, errors and "did you mean" come for free — and the
//! rest of the cell is its body. Every other cell, including evcxr's own `:dep` and `:vars`,
//! goes to evcxr.

mod backend;
pub mod cell;
mod chat;
mod check;
mod class_results;
pub mod debate;
mod endpoint;
mod help;
mod models;
mod probe;
mod records;
mod rlhf;
mod session;

use std::sync::Arc;

use clap::{ColorChoice, CommandFactory, Parser};
use tokio_util::sync::CancellationToken;

use crate::display::{Bundle, CellError, OutputSink};
pub use cell::MagicCall;
pub use records::write_run_record;
pub use session::{Session, SharedBackend};

/// What a magic gets to work with.
pub struct MagicContext<'a> {
    pub session: &'a mut Session,
    pub sink: Arc<dyn OutputSink>,
    pub cancel: CancellationToken,
}

/// One registered magic: its name, a one-line summary, an example and its clap command.
pub struct MagicSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
    pub command: fn() -> clap::Command,
}

/// All magics this kernel handles itself.
pub const MAGICS: &[MagicSpec] = &[
    MagicSpec {
        name: "help",
        summary: "list the magics, one line each, with an example",
        example: ":help",
        command: help::HelpArgs::command,
    },
    MagicSpec {
        name: "backend",
        summary: "show or switch the model backend (auto, embedded, or a server URL)",
        example: ":backend http://localhost:1234/v1 --model qwen2.5-1.5b-instruct",
        command: backend::BackendArgs::command,
    },
    MagicSpec {
        name: "models",
        summary: "table of the models the backend offers (and local GGUF files)",
        example: ":models",
        command: models::ModelsArgs::command,
    },
    MagicSpec {
        name: "probe",
        summary: "refusal rates of models under adversarial strategies; answers are never stored",
        example: ":probe --strategies direct,poem,step-by-step --samples 5\n<request under test>",
        command: probe::ProbeArgs::command,
    },
    MagicSpec {
        name: "debate",
        summary:
            "multi-agent debate (Du et al. 2023) with a final-answer call, baselines and plots",
        example: ":debate --suite course --agents 2 --rounds 3 --baselines",
        command: debate::DebateArgs::command,
    },
    MagicSpec {
        name: "rlhf-challenge",
        summary:
            "the four RLHF challenges (Casper et al. 2023): cards, simulations, findings templates",
        example: ":rlhf-challenge reward-hacking --simulate",
        command: rlhf::RlhfArgs::command,
    },
    MagicSpec {
        name: "class-results",
        summary: "the lecturer's view: students' notebooks pooled (refusal rates, debate accuracy, challenges)",
        example: ":class-results submissions/",
        command: class_results::ClassResultsArgs::command,
    },
    MagicSpec {
        name: "endpoint",
        summary:
            "the OpenAI-compatible endpoint Rust cells call (chat, Chat, chat_all), for any client",
        example: ":endpoint",
        command: endpoint::EndpointArgs::command,
    },
    MagicSpec {
        name: "check",
        summary: "is the saved notebook ready to hand in? (findings written, cells run, no revealed answers)",
        example: ":check",
        command: check::CheckArgs::command,
    },
    MagicSpec {
        name: "chat",
        summary: "send the cell body as a prompt; the answer streams in as markdown",
        example: ":chat --temperature 0.2 --seed 7\nExplain RLHF in two sentences.",
        command: chat::ChatArgs::command,
    },
];

pub fn find(name: &str) -> Option<&'static MagicSpec> {
    MAGICS.iter().find(|m| m.name == name)
}

/// Split a cell whose first line names one of our magics.
pub fn parse_cell(code: &str) -> Option<MagicCall<'_>> {
    let call = cell::split_cell(code)?;
    find(call.name)?;
    Some(call)
}

/// Parse a magic's flags with clap. `Ok(None)` means `--help` was shown.
pub fn parse_flags<T: Parser>(
    name: &str,
    flags: &str,
    sink: &dyn OutputSink,
) -> Result<Option<T>, CellError> {
    let words = cell::split_flags(flags)
        .map_err(|e| CellError::new("UsageError", format!(":{name}: {e}")))?;
    let argv = std::iter::once(format!(":{name}")).chain(words);
    let cmd = T::command().color(ColorChoice::Never);
    match cmd.try_get_matches_from(argv) {
        Ok(matches) => T::from_arg_matches(&matches)
            .map(Some)
            .map_err(|e| usage_error(name, e)),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            sink.display(help_bundle(&e.render().to_string()), None);
            Ok(None)
        }
        Err(e) => Err(usage_error(name, e)),
    }
}

fn help_bundle(help: &str) -> Bundle {
    Bundle::plain(help.to_string()).with(
        "text/markdown",
        crate::display::markdown::fenced(help, "text"),
    )
}

/// One line saying what is wrong (and clap's tip), then the usage block.
fn usage_error(name: &str, e: clap::Error) -> CellError {
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid flags")
        .trim_start_matches("error: ")
        .to_string();
    let tip = rendered
        .lines()
        .find(|l| l.trim_start().starts_with("tip:"))
        .map(|l| format!(" ({})", l.trim()))
        .unwrap_or_default();
    CellError::new("UsageError", format!(":{name}: {first}{tip}")).with_traceback(
        std::iter::once(format!("UsageError: :{name}: {first}"))
            .chain(rendered.lines().skip(1).map(String::from))
            .chain(std::iter::once(format!("Try `:{name} --help`.")))
            .collect(),
    )
}

/// Run a parsed magic call.
pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    match call.name {
        "help" => help::run(call, ctx),
        "backend" => backend::run(call, ctx).await,
        "models" => models::run(call, ctx).await,
        "chat" => chat::run(call, ctx).await,
        "probe" => probe::run(call, ctx).await,
        "rlhf-challenge" => rlhf::run(call, ctx),
        "debate" => debate::run(call, ctx).await,
        "endpoint" => endpoint::run(call, ctx),
        "check" => check::run(call, ctx),
        "class-results" => class_results::run(call, ctx),
        other => Err(CellError::new(
            "UsageError",
            format!("unknown magic :{other}"),
        )),
    }
}

/// Completions for a magic line: magic names after `:`, flags after `--`.
/// Returns `(matches, start_offset)` or `None` when the cursor is not in a magic line.
pub fn complete(code: &str, cursor: usize) -> Option<(Vec<String>, usize)> {
    let before = code.get(..cursor)?;
    if before.contains('\n') {
        return None;
    }
    let word_start = before
        .rfind(char::is_whitespace)
        .map(|i| i + 1)
        .unwrap_or(0);
    let word = &before[word_start..];
    if word_start == 0 {
        let prefix = word.strip_prefix(':')?;
        let names: Vec<String> = MAGICS
            .iter()
            .filter(|m| m.name.starts_with(prefix))
            .map(|m| format!(":{}", m.name))
            .collect();
        return (!names.is_empty()).then_some((names, 0));
    }
    let name = before.strip_prefix(':')?.split_whitespace().next()?;
    let spec = find(name)?;
    if !word.starts_with('-') {
        return None;
    }
    let cmd = (spec.command)();
    let mut flags: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .chain(std::iter::once("--help".to_string()))
        .filter(|f| f.starts_with(word))
        .collect();
    flags.sort();
    flags.dedup();
    Some((flags, word_start))
}

/// A magic's help, for Shift-Tab inspection.
pub fn inspect(code: &str) -> Option<String> {
    let call = parse_cell(code)?;
    let spec = find(call.name)?;
    Some(
        (spec.command)()
            .color(ColorChoice::Never)
            .render_long_help()
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::CollectingSink;

    #[test]
    fn recognises_only_our_magics() {
        let call = parse_cell(":chat --seed 3\nHello\nthere").unwrap();
        assert_eq!(call.name, "chat");
        assert_eq!(call.flags, "--seed 3");
        assert_eq!(call.body, "Hello\nthere");
        assert!(parse_cell(":dep serde = \"1\"").is_none());
        assert!(parse_cell(":vars").is_none());
        assert!(parse_cell("let x = 1;").is_none());
        assert_eq!(parse_cell("\n:help").unwrap().name, "help");
    }

    #[test]
    fn bad_flag_is_one_specific_line_with_a_suggestion() {
        let sink = CollectingSink::default();
        let err = parse_flags::<chat::ChatArgs>("chat", "--temprature 0.2", &sink).unwrap_err();
        assert_eq!(err.ename, "UsageError");
        assert!(err.evalue.contains("--temprature"), "{}", err.evalue);
        assert!(err.evalue.contains("--temperature"), "{}", err.evalue);
        assert!(!err.evalue.contains('\n'));
    }

    #[test]
    fn bad_number_is_named() {
        let sink = CollectingSink::default();
        let err = parse_flags::<chat::ChatArgs>("chat", "--max-tokens lots", &sink).unwrap_err();
        assert!(err.evalue.contains("lots"), "{}", err.evalue);
    }

    #[test]
    fn help_flag_displays_usage() {
        let sink = CollectingSink::default();
        let parsed = parse_flags::<chat::ChatArgs>("chat", "--help", &sink).unwrap();
        assert!(parsed.is_none());
        let events = sink.take();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn unbalanced_quotes_are_explained() {
        let sink = CollectingSink::default();
        let err = parse_flags::<chat::ChatArgs>("chat", "--model \"x", &sink).unwrap_err();
        assert!(err.evalue.contains("quotes"));
    }

    #[test]
    fn completes_names_and_flags() {
        let (m, start) = complete(":cha", 4).unwrap();
        assert_eq!((m, start), (vec![":chat".to_string()], 0));
        let (m, _) = complete(":ch", 3).unwrap();
        assert_eq!(m, [":check", ":chat"].map(String::from));
        let (m, start) = complete(":chat --te", 10).unwrap();
        assert_eq!(m, vec!["--temperature".to_string()]);
        assert_eq!(start, 6);
        assert!(complete("let x = 1", 5).is_none());
    }

    #[test]
    fn inspect_shows_help() {
        assert!(inspect(":chat").unwrap().contains("--temperature"));
    }
}
