//! The four RLHF challenge cards (Casper et al. 2023) and their simulations. Card text lives in
//! `data/rlhf/*.toml`, compiled in; the simulations are in `sim`.

pub mod sim;

use serde::{Deserialize, Serialize};

/// Whose point an item is. A lecturer must be able to tell the paper's claims from the card's own
/// (teaching assumptions, mitigations the paper does not list), so every sub-problem, piece of
/// evidence and mitigation says which it is; there is deliberately no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Casper et al. (2023) make this point.
    Paper,
    /// Our addition for the course; rendered as "our addition".
    Ours,
}

/// The paper's tag on one item. The paper tags items, not sections, and not every item (in 3.1.4
/// only the richness/efficiency trade-off), so an absent tag means untagged — never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tag {
    Tractable,
    Fundamental,
    #[default]
    Untagged,
}

impl Tag {
    /// How the card shows the tag.
    pub fn label(self) -> &'static str {
        match self {
            Tag::Tractable => "tractable",
            Tag::Fundamental => "fundamental",
            Tag::Untagged => "not tagged in the paper",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubProblem {
    pub text: String,
    /// `tractable` or `fundamental` where the paper tags the item; absent or `untagged` otherwise.
    #[serde(default)]
    pub tag: Tag,
    pub source: Source,
    /// The paper's section when it is not the card's own, e.g. `3.1.2` items on the 3.1.1 card,
    /// so related material is labelled as such.
    #[serde(default)]
    pub section: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Evidence {
    pub text: String,
    pub cite: String,
    pub source: Source,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Mitigation {
    pub text: String,
    pub source: Source,
    /// Where the paper discusses it (4.x or 5); required for the paper's mitigations, so the card
    /// cites a subsection that exists rather than a blanket "Section 4".
    #[serde(default)]
    pub section: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Card {
    pub name: String,
    pub section: String,
    pub title: String,
    pub gist: String,
    /// Which RLHF step: human feedback, reward model or policy.
    pub step: String,
    pub problem: String,
    #[serde(rename = "subproblem")]
    pub subproblems: Vec<SubProblem>,
    pub evidence: Vec<Evidence>,
    #[serde(rename = "mitigation")]
    pub mitigations: Vec<Mitigation>,
    pub questions: Vec<String>,
    pub outline: Vec<String>,
    pub findings: String,
}

impl Card {
    /// How many of the paper's items carry `tag`. Untagged items and our additions never count:
    /// the list view's numbers must be the paper's.
    pub fn count(&self, tag: Tag) -> usize {
        self.subproblems
            .iter()
            .filter(|s| s.source == Source::Paper && s.tag == tag)
            .count()
    }

    /// The same count split into the card's own section and related sections (3.1.2 items on the
    /// 3.1.1 card): a list that said "3.1.1: 2 fundamental" would misstate the paper.
    pub fn count_split(&self, tag: Tag) -> (usize, usize) {
        let tagged = || {
            self.subproblems
                .iter()
                .filter(move |s| s.source == Source::Paper && s.tag == tag)
        };
        let own = tagged().filter(|s| s.section.is_none()).count();
        (own, tagged().count() - own)
    }
}

const SOURCES: [(&str, &str); 4] = [
    (
        "misaligned-humans",
        include_str!("../data/rlhf/misaligned-humans.toml"),
    ),
    (
        "feedback-types",
        include_str!("../data/rlhf/feedback-types.toml"),
    ),
    (
        "reward-hacking",
        include_str!("../data/rlhf/reward-hacking.toml"),
    ),
    ("robust-rl", include_str!("../data/rlhf/robust-rl.toml")),
];

pub const NAMES: [&str; 4] = [
    "misaligned-humans",
    "feedback-types",
    "reward-hacking",
    "robust-rl",
];

pub fn cards() -> Vec<Card> {
    SOURCES
        .iter()
        .map(|(name, text)| {
            toml::from_str(text)
                .unwrap_or_else(|e| panic!("card {name} is invalid (checked by tests): {e}"))
        })
        .collect()
}

pub fn card(name: &str) -> Option<Card> {
    cards().into_iter().find(|c| c.name == name)
}

/// The paper's map of open problems, for the list view.
pub const PAPER_MAP: &str = "Casper et al. (2023) sort RLHF's open problems by step — **3.1 human feedback** \
(misaligned humans, difficult oversight, data quality, feedback types), **3.2 the reward model** \
(misspecification, misgeneralization and hacking, evaluation), **3.3 the policy** (robust RL, policy \
misgeneralization, distributional challenges) and **3.4 joint training** — and tag individual problems, \
not whole sections, as *tractable* (fixable within RLHF) or *fundamental* (needs approaches beyond \
RLHF); some items carry no tag, and the counts above include only tagged items. Section 4 covers \
mitigations, Section 5 governance and transparency.";

#[cfg(test)]
mod tests {
    use super::*;

    /// The section numbers of Casper et al. (2023) a card may cite: Section 3's problems and the
    /// Section 4 and 5 map (there is no 4.4, and 4.1 is frameworks, not mitigations).
    const ALLOWED_SECTIONS: [&str; 23] = [
        "3", "3.1", "3.1.1", "3.1.2", "3.1.3", "3.1.4", "3.2", "3.2.1", "3.2.2", "3.2.3", "3.3",
        "3.3.1", "3.3.2", "3.3.3", "3.4", "4", "4.1", "4.2", "4.2.1", "4.2.2", "4.2.3", "4.3", "5",
    ];

    /// Where the paper discusses mitigations: a paper mitigation must cite one of these.
    const MITIGATION_SECTIONS: [&str; 5] = ["4.2.1", "4.2.2", "4.2.3", "4.3", "5"];

    /// Section numbers a text cites: the number after "§" or "Section(s)", and any bare x.y.z
    /// (two dots never make a decimal). Written by hand, like `§\d+(\.\d+)*`, to need no crate.
    fn cited_sections(text: &str) -> Vec<String> {
        fn number_at(rest: &str) -> &str {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            // A full stop after the number ends the sentence, not the number.
            rest[..end].trim_end_matches('.')
        }
        let mut found = Vec::new();
        for marker in ["§", "Sections ", "Section "] {
            for (i, _) in text.match_indices(marker) {
                let number = number_at(text[i + marker.len()..].trim_start());
                if !number.is_empty() {
                    found.push(number.to_string());
                }
            }
        }
        for run in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            let run = run.trim_matches('.');
            if run.matches('.').count() >= 2 && run.split('.').all(|p| !p.is_empty()) {
                found.push(run.to_string());
            }
        }
        // "§3.1.2" is seen by both passes; keep each number once, in order of first sight.
        let mut unique: Vec<String> = Vec::new();
        for n in found {
            if !unique.contains(&n) {
                unique.push(n);
            }
        }
        unique
    }

    /// Every piece of text a card shows, with a label saying where it sits.
    fn texts(c: &Card) -> Vec<(String, String)> {
        let mut t = vec![
            ("section".to_string(), format!("§{}", c.section)),
            ("title".into(), c.title.clone()),
            ("gist".into(), c.gist.clone()),
            ("problem".into(), c.problem.clone()),
            ("findings".into(), c.findings.clone()),
        ];
        for s in &c.subproblems {
            t.push(("subproblem".into(), s.text.clone()));
            if let Some(n) = &s.section {
                t.push(("subproblem section".into(), format!("§{n}")));
            }
        }
        for e in &c.evidence {
            t.push(("evidence".into(), format!("{} ({})", e.text, e.cite)));
        }
        for m in &c.mitigations {
            t.push(("mitigation".into(), m.text.clone()));
            if let Some(n) = &m.section {
                t.push(("mitigation section".into(), format!("§{n}")));
            }
        }
        for q in &c.questions {
            t.push(("question".into(), q.clone()));
        }
        for o in &c.outline {
            t.push(("outline".into(), o.clone()));
        }
        t
    }

    #[test]
    fn every_card_has_every_section() {
        let all = cards();
        assert_eq!(
            all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            NAMES
        );
        for c in &all {
            assert!(c.section.starts_with("3."), "{}", c.name);
            assert!(c.problem.trim().len() > 200, "{}", c.name);
            assert!(!c.subproblems.is_empty(), "{}", c.name);
            assert!(
                c.evidence.len() >= 2 && c.evidence.iter().all(|e| !e.cite.is_empty()),
                "{}",
                c.name
            );
            assert!(c.mitigations.len() >= 3, "{}", c.name);
            assert_eq!(c.questions.len(), 3, "{}", c.name);
            assert!((5..=6).contains(&c.outline.len()), "{}", c.name);
            assert!(c.findings.contains("My findings"), "{}", c.name);
        }
    }

    #[test]
    fn the_section_scanner_finds_citations() {
        assert_eq!(
            cited_sections("see §3.1.2. Also (Section 4.2) and 3.3.3, not 0.074 or 1.07"),
            ["3.1.2", "4.2", "3.3.3"]
        );
        assert_eq!(cited_sections("Section 4.4 and §5)"), ["5", "4.4"]);
    }

    #[test]
    fn every_cited_section_exists_in_the_paper() {
        for c in &cards() {
            for (place, text) in texts(c) {
                for n in cited_sections(&text) {
                    assert!(
                        ALLOWED_SECTIONS.contains(&n.as_str()),
                        "card {}, {place}: §{n} is not a section of Casper et al. (2023): {text}",
                        c.name
                    );
                }
            }
        }
        for n in cited_sections(PAPER_MAP) {
            assert!(
                ALLOWED_SECTIONS.contains(&n.as_str()),
                "PAPER_MAP cites §{n}"
            );
        }
    }

    #[test]
    fn no_card_cites_a_section_4_4() {
        for (name, source) in SOURCES {
            assert!(!source.contains("4.4"), "card {name} mentions 4.4");
        }
    }

    #[test]
    fn paper_mitigations_cite_a_section_4_or_5_subsection() {
        for c in &cards() {
            for m in &c.mitigations {
                match (m.source, m.section.as_deref()) {
                    (Source::Paper, Some(n)) => assert!(
                        MITIGATION_SECTIONS.contains(&n),
                        "card {}: mitigation cites §{n}: {}",
                        c.name,
                        m.text
                    ),
                    (Source::Paper, None) => panic!(
                        "card {}: paper mitigation without a section: {}",
                        c.name, m.text
                    ),
                    // Our additions name no paper section as their source.
                    (Source::Ours, n) => assert!(n.is_none(), "card {}: {}", c.name, m.text),
                }
            }
            assert!(
                c.mitigations.iter().any(|m| m.source == Source::Paper),
                "card {} lists none of the paper's mitigations",
                c.name
            );
        }
    }

    #[test]
    fn feedback_types_tags_only_the_trade_off() {
        let c = card("feedback-types").unwrap();
        let tagged: Vec<_> = c
            .subproblems
            .iter()
            .filter(|s| s.tag != Tag::Untagged)
            .collect();
        assert_eq!(tagged.len(), 1, "{tagged:?}");
        assert_eq!(tagged[0].tag, Tag::Fundamental);
        assert_eq!(tagged[0].source, Source::Paper);
        assert!(tagged[0].text.contains("trade-off"), "{}", tagged[0].text);
        assert!(
            c.subproblems.len() > 1,
            "the untagged formats are still shown"
        );
        assert_eq!((c.count(Tag::Tractable), c.count(Tag::Fundamental)), (0, 1));
    }

    #[test]
    fn counts_are_the_papers_tagged_items_only() {
        let expected = [
            // 3.1.1: three tractable; related 3.1.2: two tractable, two fundamental.
            ("misaligned-humans", 5, 2),
            ("feedback-types", 0, 1),
            ("reward-hacking", 0, 2),
            ("robust-rl", 2, 0),
        ];
        for (name, tractable, fundamental) in expected {
            let c = card(name).unwrap();
            assert_eq!(c.count(Tag::Tractable), tractable, "{name}");
            assert_eq!(c.count(Tag::Fundamental), fundamental, "{name}");
            if name == "misaligned-humans" {
                // §3.1.1 itself tags three items tractable; the rest are §3.1.2's.
                assert_eq!(c.count_split(Tag::Tractable), (3, 2));
                assert_eq!(c.count_split(Tag::Fundamental), (0, 2));
            }
            let tagged = c
                .subproblems
                .iter()
                .filter(|s| s.source == Source::Paper && s.tag != Tag::Untagged)
                .count();
            assert_eq!(tractable + fundamental, tagged, "{name}");
        }
        for c in &cards() {
            // A tag is the paper's judgement; our additions cannot carry one.
            for s in c.subproblems.iter().filter(|s| s.source == Source::Ours) {
                assert_eq!(s.tag, Tag::Untagged, "card {}: {}", c.name, s.text);
            }
        }
    }

    #[test]
    fn items_of_3_1_2_are_tagged_one_by_one() {
        let c = card("misaligned-humans").unwrap();
        let related: Vec<_> = c
            .subproblems
            .iter()
            .filter(|s| s.section.as_deref() == Some("3.1.2"))
            .collect();
        assert_eq!(related.len(), 4, "{related:?}");
        assert!(related.iter().all(|s| s.source == Source::Paper));
        let count = |t: Tag| related.iter().filter(|s| s.tag == t).count();
        assert_eq!((count(Tag::Tractable), count(Tag::Fundamental)), (2, 2));
        for c in &cards() {
            for s in &c.subproblems {
                // A 3.1.2 item is marked by its `section` field, not folded into one bundled text.
                assert!(
                    !s.text.contains("3.1.2"),
                    "card {}: a sub-problem names 3.1.2 in its text: {}",
                    c.name,
                    s.text
                );
                if let Some(n) = &s.section {
                    assert_ne!(n, &c.section, "card {}: {}", c.name, s.text);
                }
            }
        }
    }

    #[test]
    fn related_material_is_labelled_with_its_own_section() {
        let c = card("robust-rl").unwrap();
        for (place, text) in texts(&c) {
            let lower = text.to_lowercase();
            if lower.contains("mode collapse") || lower.contains("calibration") {
                assert!(
                    text.contains("§3.3.3") || place == "question",
                    "robust-rl, {place}: mode collapse / calibration not labelled §3.3.3: {text}"
                );
            }
        }
        // The closed form is standard KL-regularised RL, cited to its sources, not to this paper.
        let closed_form: Vec<_> = c
            .evidence
            .iter()
            .filter(|e| e.text.contains("exp(r(a)/β)"))
            .collect();
        assert_eq!(closed_form.len(), 1);
        assert!(
            !closed_form[0].cite.contains("Casper"),
            "{}",
            closed_form[0].cite
        );
        assert!(closed_form[0].cite.contains("Korbak") && closed_form[0].cite.contains("Rafailov"));
        assert_eq!(closed_form[0].source, Source::Ours);
    }
}
