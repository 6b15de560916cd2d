//! The four RLHF challenge cards (Casper et al. 2023) and their simulations. Card text lives in
//! `data/rlhf/*.toml`, compiled in; the simulations are in `sim`.

pub mod sim;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubProblem {
    pub text: String,
    /// `tractable` or `fundamental`, as the paper tags it.
    pub tag: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Evidence {
    pub text: String,
    pub cite: String,
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
    pub mitigations: Vec<String>,
    pub questions: Vec<String>,
    pub outline: Vec<String>,
    pub findings: String,
}

impl Card {
    pub fn count(&self, tag: &str) -> usize {
        self.subproblems.iter().filter(|s| s.tag == tag).count()
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
misgeneralization, distributional challenges) and **3.4 joint training** — and tag each as *tractable* \
(fixable within RLHF) or *fundamental* (needs approaches beyond RLHF). Section 4 covers mitigations, \
Section 5 governance and transparency.";

#[cfg(test)]
mod tests {
    use super::*;

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
                c.subproblems
                    .iter()
                    .all(|s| s.tag == "tractable" || s.tag == "fundamental"),
                "{}",
                c.name
            );
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
}
