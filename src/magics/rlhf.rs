use std::time::Instant;

use clap::Parser;
use polars::prelude::{Column, DataFrame};
use serde_json::json;

use super::{parse_flags, MagicCall, MagicContext};
use crate::display::markdown::fenced;
use crate::display::plot::{render, Chart, ChartKind};
use crate::display::table::table_bundle;
use crate::display::{Bundle, CellError};
use crate::lab::rlhf::{self, sim, Card, Source, Tag, PAPER_MAP};

/// The RLHF challenge cards (Casper et al. 2023) with simulations.
#[derive(Parser, Debug)]
#[command(
    name = ":rlhf-challenge",
    about = "The four RLHF challenges of the course (Casper et al. 2023): a card to present from, a simulation, and a findings template",
    after_help = "Examples:\n  :rlhf-challenge                                  list the four challenges\n  :rlhf-challenge reward-hacking                   the card\n  :rlhf-challenge reward-hacking --simulate --lambda 0.5\n  :rlhf-challenge misaligned-humans --simulate --biased-fraction 0.3\n  :rlhf-challenge robust-rl --simulate --beta 0.05"
)]
pub struct RlhfArgs {
    /// misaligned-humans, feedback-types, reward-hacking or robust-rl (none: list them).
    #[arg(value_parser = rlhf::NAMES)]
    pub name: Option<String>,
    /// Run the card's simulation and plot it.
    #[arg(long)]
    pub simulate: bool,
    /// misaligned-humans: fraction of style-biased raters.
    #[arg(long, default_value_t = 0.3, value_parser = unit_interval)]
    pub biased_fraction: f64,
    /// misaligned-humans: how strongly biased raters weigh style.
    #[arg(long, default_value_t = 2.0)]
    pub bias: f64,
    /// reward-hacking: how much the gold reward penalises the exploited feature.
    #[arg(long, default_value_t = 0.35, value_parser = positive)]
    pub lambda: f64,
    /// robust-rl: KL penalty strength shown beside β = 0 and β = 0.2.
    #[arg(long, default_value_t = 0.05, value_parser = positive)]
    pub beta: f64,
    /// Seed for the simulations that draw random numbers.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

fn unit_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0–1"))
    }
}

fn positive(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{v} must be greater than 0"))
    }
}

pub fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<RlhfArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    let Some(name) = &args.name else {
        if args.simulate {
            return Err(CellError::new("UsageError", ":rlhf-challenge --simulate needs a challenge name, e.g. `:rlhf-challenge reward-hacking --simulate`"));
        }
        ctx.sink.display(list_bundle(), None);
        return Ok(());
    };
    let card = rlhf::card(name).expect("clap restricts names to the four cards");
    if !args.simulate {
        ctx.sink.display(card_bundle(&card), None);
        return Ok(());
    }
    let t0 = Instant::now();
    let simulation = match name.as_str() {
        "misaligned-humans" => sim::misaligned_humans(args.biased_fraction, args.bias, args.seed),
        "feedback-types" => sim::feedback_types(args.seed),
        "reward-hacking" => sim::reward_hacking(args.lambda),
        _ => sim::robust_rl(args.beta),
    };
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let chart = Chart {
        title: simulation.title.clone(),
        x_label: simulation.x_label.clone(),
        y_label: simulation.y_label.clone(),
        y_range: simulation.y_range,
        x_ticks: Vec::new(),
        kind: ChartKind::Lines(simulation.series.clone()),
    };
    let plot = render(&chart).map_err(|e| CellError::new("PlotError", e.to_string()))?;
    ctx.sink.display(plot, None);
    let series: Vec<_> = simulation
        .series
        .iter()
        .map(|s| json!({"name": s.name, "points": s.points}))
        .collect();
    let md = format!(
        "{}\n\n**Findings template** — copy into your markdown cell:\n\n{}",
        simulation.caption,
        fenced(card.findings.trim(), "markdown")
    );
    ctx.sink.display(
        Bundle::markdown(md).with_record(json!({
            "kind": "rlhf-challenge",
            "challenge": card.name,
            "section": card.section,
            "simulation": {
                "title": simulation.title,
                "parameters": simulation.parameters,
                "results": simulation.results,
                "series": series,
                "elapsed_ms": elapsed_ms,
            },
        })),
        None,
    );
    Ok(())
}

fn list_bundle() -> Bundle {
    let cards = rlhf::cards();
    let col = |name: &str, f: &dyn Fn(&Card) -> String| {
        Column::new(name.into(), cards.iter().map(f).collect::<Vec<_>>())
    };
    let df = DataFrame::new_infer_height(vec![
        col("challenge", &|c| c.name.clone()),
        col("section", &|c| format!("§{}", c.section)),
        col("RLHF step", &|c| c.step.clone()),
        col("in one line", &|c| c.gist.clone()),
        col("tractable", &|c| split_count(c, Tag::Tractable)),
        col("fundamental", &|c| split_count(c, Tag::Fundamental)),
    ])
    .expect("equal columns");
    let mut table = table_bundle(&df, Some("The four RLHF challenges of the course (Casper et al. 2023) — pick one with `:rlhf-challenge NAME`"));
    let md = format!(
        "{}\n\n{PAPER_MAP}\n",
        table.text("text/markdown").unwrap_or_default()
    );
    let plain = format!(
        "{}\n\n{}",
        table.text("text/plain").unwrap_or_default(),
        PAPER_MAP.replace("**", "").replace('*', "")
    );
    table = table.with("text/markdown", md).with("text/plain", plain);
    table.with_record(json!({
        "kind": "rlhf-challenge",
        "challenge": null,
        "challenges": cards.iter().map(|c| json!({"name": c.name, "section": c.section, "tractable": c.count_split(Tag::Tractable).0, "fundamental": c.count_split(Tag::Fundamental).0, "related_tractable": c.count_split(Tag::Tractable).1, "related_fundamental": c.count_split(Tag::Fundamental).1})).collect::<Vec<_>>(),
    }))
}

/// "3", or "3 (+2 related)" when the card also shows tagged items of a related section.
fn split_count(card: &Card, tag: Tag) -> String {
    match card.count_split(tag) {
        (own, 0) => own.to_string(),
        (own, related) => format!("{own} (+{related} related)"),
    }
}

/// How a card marks a point of its own, so a lecturer can tell paper from card.
const OURS: &str = "our addition";

fn ours_note(source: Source) -> &'static str {
    match source {
        Source::Paper => "",
        Source::Ours => " — **our addition**",
    }
}

fn card_bundle(card: &Card) -> Bundle {
    let mut md = format!(
        "## {} (§{})\n\n*{}*\n\n### The problem\n{}\n\n### Sub-problems\n",
        card.title,
        card.section,
        card.gist,
        card.problem.trim()
    );
    for s in &card.subproblems {
        // The label is the paper's tag, "not tagged in the paper", or "our addition": a card never
        // shows a tag the paper does not give.
        let label = match s.source {
            Source::Ours => OURS,
            Source::Paper => s.tag.label(),
        };
        // Items from another section (e.g. 3.1.2 on the 3.1.1 card) say which one.
        let related = s
            .section
            .as_deref()
            .map(|n| format!(" (related, §{n})"))
            .unwrap_or_default();
        md.push_str(&format!("- **{label}**{related} — {}\n", s.text));
    }
    md.push_str("\n### Evidence\n");
    for e in &card.evidence {
        md.push_str(&format!(
            "- {} ({}){}\n",
            e.text,
            e.cite,
            ours_note(e.source)
        ));
    }
    md.push_str("\n### Mitigations\n");
    for m in &card.mitigations {
        let origin = match (m.source, &m.section) {
            (Source::Paper, Some(n)) => format!(" (Casper et al. 2023, §{n})"),
            (Source::Paper, None) => " (Casper et al. 2023)".to_string(),
            (Source::Ours, _) => ours_note(Source::Ours).to_string(),
        };
        md.push_str(&format!("- {}{origin}\n", m.text));
    }
    md.push_str("\n### Questions for the discussion\n");
    for (i, q) in card.questions.iter().enumerate() {
        md.push_str(&format!("{}. {q}\n", i + 1));
    }
    md.push_str("\n### Presentation outline\n");
    for o in &card.outline {
        md.push_str(&format!("- {o}\n"));
    }
    md.push_str(&format!(
        "\n### Findings template\nCopy this into the markdown cell below and fill it in:\n\n{}\nSee it move: `:rlhf-challenge {} --simulate`.\n\n<sub>Source: S. Casper, X. Davies et al., *Open Problems and Fundamental Limitations of Reinforcement Learning from Human Feedback*, TMLR 2023, arXiv:2307.15217. Card text written for this course; tags and section numbers are the paper's, and points marked *our addition* are the card's own, not the paper's.</sub>\n",
        fenced(card.findings.trim(), "markdown"),
        card.name
    ));
    // The plain text is the markdown without emphasis marks: readable in a PDF export or a terminal.
    let plain = md
        .replace("**", "")
        .replace("<sub>", "")
        .replace("</sub>", "");
    Bundle::plain(plain)
        .with("text/markdown", md)
        .with_record(json!({
            "kind": "rlhf-challenge",
            "challenge": card.name,
            "card": card,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_view_counts_only_the_papers_tagged_items() {
        let bundle = list_bundle();
        let record = &bundle.metadata["alignment_lab"]["challenges"];
        let counts = |name: &str| {
            let c = record
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap();
            (
                c["tractable"].as_u64().unwrap(),
                c["fundamental"].as_u64().unwrap(),
            )
        };
        // §3.1.1 tags three items; its card's four §3.1.2 items are counted apart.
        assert_eq!(counts("misaligned-humans"), (3, 0));
        let md = bundle.text("text/markdown").unwrap();
        assert!(
            md.contains("3 (+2 related)") && md.contains("0 (+2 related)"),
            "{md}"
        );
        assert_eq!(counts("feedback-types"), (0, 1));
        assert_eq!(counts("reward-hacking"), (0, 2));
        assert_eq!(counts("robust-rl"), (2, 0));
    }

    #[test]
    fn cards_show_untagged_items_and_our_additions_in_words() {
        let card = rlhf::card("feedback-types").unwrap();
        let bundle = card_bundle(&card);
        let md = bundle.text("text/markdown").unwrap();
        let plain = bundle.text("text/plain").unwrap();
        assert_eq!(md.matches("**not tagged in the paper**").count(), 5, "{md}");
        assert_eq!(md.matches("**fundamental**").count(), 1, "{md}");
        assert!(!md.contains("**tractable**"), "{md}");
        assert!(md.contains("(Casper et al. 2023, §4.2.1)"), "{md}");
        assert!(plain.contains("— our addition"), "{plain}");
        assert!(!plain.contains("**"), "{plain}");

        let card = rlhf::card("misaligned-humans").unwrap();
        let md = card_bundle(&card)
            .text("text/markdown")
            .unwrap()
            .to_string();
        assert_eq!(md.matches("(related, §3.1.2)").count(), 4, "{md}");
    }
}
