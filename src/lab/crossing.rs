//! A state-space validator for wolf–goat–cabbage crossing plans written in prose or lists.
//!
//! The plan is read as a sequence of crossings. When the answer holds a numbered list ("1.",
//! "Step 1:", "Trip 1 —"), only its last list is read: the prose around it restates the puzzle
//! and often a first attempt. Each item or sentence is cut into clauses at "then", ";" and "and"
//! before a new move verb; commentary after ", so", "because", "ensuring", "leaving" … is dropped
//! before the clause is read, so "take the goat, so the wolf is not left alone with it" is one
//! move carrying the goat (the old reader saw "alone" and sent the farmer across empty-handed).
//! Reasoning about moves ("if he takes the wolf first …", "he can't take …") is not a move.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::grading::normalise;

const ITEMS: [&str; 3] = ["wolf", "goat", "cabbage"];

/// One crossing: which item (if any) goes with the farmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move(pub Option<usize>);

/// Why a plan fails; crossings are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    NoCrossings,
    TwoItems {
        crossing: usize,
    },
    WrongBank {
        crossing: usize,
        item: &'static str,
    },
    Eaten {
        crossing: usize,
        eater: &'static str,
        eaten: &'static str,
    },
    Incomplete {
        crossings: usize,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NoCrossings => write!(f, "no crossings found in the answer"),
            PlanError::TwoItems { crossing } => {
                write!(f, "crossing {crossing}: the boat carries only one item")
            }
            PlanError::WrongBank { crossing, item } => {
                write!(
                    f,
                    "crossing {crossing}: the {item} is not on the farmer's bank"
                )
            }
            PlanError::Eaten {
                crossing,
                eater,
                eaten,
            } => write!(
                f,
                "after crossing {crossing}: the {eater} is left alone with the {eaten}"
            ),
            PlanError::Incomplete { crossings } => {
                write!(f, "after {crossings} crossings not everything is across")
            }
        }
    }
}

/// A clause's reading: a move, a move with too many items, or nothing.
enum Clause {
    Move(Move),
    TwoItems,
    Nothing,
}

static MOVE_VERB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"→|->|←|<-|⟶|⟵|\b(?:takes?|taking|took|brings?|bringing|brought|carr(?:y|ies|ying|ied)|cross(?:es|ing|ed)?|rows?|rowing|rowed|returns?|returning|returned|ferr(?:y|ies|ying|ied)|transports?|transporting|moves?|moving|sails?|paddles?|(?:go|goes|going|went|come|comes|coming|came|head|heads|heading|travel|travels|travelling|traveling|crosses|row|rows|gets|get|drive|drives)\s+(?:back|across|over|alone|to the|empty))").unwrap()
});

/// Commentary that follows a move: cut the clause here before reading items.
static COMMENTARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:,\s*so\b|\bto (?:join|meet|be with|sit with|stay with)\b|\bjoining\b|\bnext to\b|\bbeside\b|\balongside\b|\bso that\b|\bso the\b|\bso it\b|\bbecause\b|\bsince\b|\bensuring\b|\bto ensure\b|\bmaking sure\b|\bwhich\b|\bleaving\b|\bwhere\b|\bwhile\b|\bto avoid\b|\bto prevent\b|\botherwise\b|\bnow\b|\bthis way\b|\bas the\b|\bwhen\b|\(|\s-\s|:\s+(?:now|the|this|wolf|goat|cabbage)\b)").unwrap()
});

/// Reasoning about a move rather than making it.
static HYPOTHETICAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:if|whether|can't|cannot|can not|couldn't|could|would|wouldn't|must not|mustn't|shouldn't|don't|doesn't|never|how|why|what if|suppose|imagine|instead of|rather than|must|needs? to|has to|have to|wants? to)\b").unwrap()
});

static PRONOUN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:it|him|her|them)\b").unwrap());

/// What joins two items carried together: "and", "&", "+", ",", "plus", "with".
static JOINED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^s?\s*(?:,|and|&|\+|plus|as well as|together with|with)\s*(?:the\s+|a\s+)?$")
        .unwrap()
});

static EMPTY_TRIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:alone|empty|empty-handed|by (?:him|her|them)sel(?:f|ves)|nothing|unaccompanied|on (?:his|her|their) own|solo)\b").unwrap()
});

static LIST_ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*•>]\s*)?(?:\(?(\d{1,2})[.):]\s|(?:step|trip|crossing|move|round)\s*(\d{1,2})\b\s*[:.)\-]?)").unwrap()
});

fn items_in(text: &str) -> Vec<(usize, usize)> {
    ITEMS
        .iter()
        .enumerate()
        .filter_map(|(k, name)| find_word(text, name).map(|at| (at, k)))
        .collect()
}

/// Read one clause. `verbless_item`: a whole list item with no move verb, which may still name
/// the load ("Trip 3: the wolf").
fn read_clause(clause: &str, verbless_item: bool) -> Clause {
    let (before, after) = match MOVE_VERB.find(clause) {
        Some(v) => (&clause[..v.start()], &clause[v.end()..]),
        None if verbless_item && !HYPOTHETICAL.is_match(clause) => ("", clause),
        None => return Clause::Nothing,
    };
    if HYPOTHETICAL.is_match(before) {
        return Clause::Nothing;
    }
    let after = COMMENTARY
        .find(after)
        .map_or(after, |c| &after[..c.start()]);
    let mut load: Vec<(usize, usize)> = items_in(after);
    if load.is_empty() {
        // "The farmer and the goat cross", "Farmer + goat →": the load is named before the verb.
        load = items_in(before);
    }
    if verbless_item && load.is_empty() && !EMPTY_TRIP.is_match(after) {
        return Clause::Nothing;
    }
    load.sort();
    let empty_at = EMPTY_TRIP.find(after).map(|m| m.start());
    let text_of_load = if items_in(after).is_empty() {
        before
    } else {
        after
    };
    match load.as_slice() {
        [] => Clause::Move(Move(None)),
        [(at, _), ..] if empty_at.is_some_and(|e| e < *at) => Clause::Move(Move(None)),
        [(_, k)] => Clause::Move(Move(Some(*k))),
        [(a, k), (b, _), ..] => {
            // Two items joined ("the wolf and the goat", "wolf + goat") are one overloaded
            // crossing; a second item named elsewhere ("… and leave it with the wolf") is a place.
            let between = &text_of_load[a + ITEMS[*k].len()..*b];
            if JOINED.is_match(between) {
                Clause::TwoItems
            } else {
                Clause::Move(Move(Some(*k)))
            }
        }
    }
}

/// Split a sentence or list item into clauses at "then", ";" and "and" before a new move verb.
fn clauses(piece: &str) -> Vec<String> {
    static SPLIT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r";|,?\s+and then\s+|,?\s+then\s+|,\s*and\s+|\s+and\s+|,\s+").unwrap()
    });
    let mut out: Vec<String> = Vec::new();
    let mut last = 0;
    for m in SPLIT.find_iter(piece) {
        let next = &piece[m.end()..];
        let is_and_or_comma = !m.as_str().contains(';') && !m.as_str().contains("then");
        // "and"/"," splits only before a new move ("take the goat and return alone"), never a
        // load ("the wolf and the goat").
        let starts_move = MOVE_VERB.find(next).is_some_and(|v| {
            let lead = &next[..v.start()];
            lead.split_whitespace().count() <= 3 && items_in(lead).is_empty()
        });
        if is_and_or_comma && !starts_move {
            continue;
        }
        out.push(piece[last..m.start()].to_string());
        last = m.end();
    }
    out.push(piece[last..].to_string());
    out.into_iter().filter(|c| !c.trim().is_empty()).collect()
}

/// Split prose into sentences.
fn sentences(text: &str) -> Vec<String> {
    static END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[.!?]\s+|\n+").unwrap());
    END.split(text).map(str::to_string).collect()
}

/// The list items of the answer's last numbered list, without their numbers.
fn last_list(lines: &[&str]) -> Vec<String> {
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut previous: Option<u32> = None;
    for line in lines {
        let Some(c) = LIST_ITEM.captures(line) else {
            continue;
        };
        let n: u32 = c
            .get(1)
            .or(c.get(2))
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0);
        let item = line[c.get(0).unwrap().end()..].trim().to_string();
        if runs.is_empty() || n <= 1 || previous.is_some_and(|p| n <= p) {
            runs.push(Vec::new());
        }
        runs.last_mut().unwrap().push(item);
        previous = Some(n);
    }
    runs.into_iter()
        .rev()
        .find(|run| run.len() >= 3)
        .unwrap_or_default()
}

/// Read the moves out of a plan.
pub fn parse_moves(text: &str) -> Result<Vec<Move>, PlanError> {
    let lower = normalise(&emoji_as_words(text)).to_lowercase();
    let lines: Vec<&str> = lower.lines().collect();
    let list = last_list(&lines);
    let in_list = !list.is_empty();
    let pieces: Vec<String> = if in_list { list } else { sentences(&lower) };
    let mut moves = Vec::new();
    for piece in pieces {
        // A list item may go on with commentary sentences ("Take the goat across. The wolf and
        // the cabbage stay behind."): each sentence is read on its own.
        let verbless_item = in_list && !MOVE_VERB.is_match(&piece);
        let parts = if verbless_item {
            vec![piece.clone()]
        } else {
            sentences(&piece).iter().flat_map(|s| clauses(s)).collect()
        };
        // "Load the goat and go back with it": "it" is the item the piece named last.
        let mut named: Option<usize> = None;
        for clause in parts {
            let reading = read_clause(&clause, verbless_item);
            let last_named = items_in(&clause).into_iter().max().map(|(_, k)| k);
            match reading {
                Clause::Move(Move(None))
                    if PRONOUN.is_match(&clause) && !EMPTY_TRIP.is_match(&clause) =>
                {
                    moves.push(Move(named));
                }
                Clause::Move(m) => moves.push(m),
                Clause::TwoItems => {
                    return Err(PlanError::TwoItems {
                        crossing: moves.len() + 1,
                    })
                }
                Clause::Nothing => {}
            }
            named = last_named.or(named);
        }
    }
    Ok(moves)
}

/// Emoji plans ("🚣 + 🐐 →") read as words.
fn emoji_as_words(text: &str) -> String {
    text.replace('🐐', " goat ")
        .replace('🐺', " wolf ")
        .replace(['🥬', '🥦'], " cabbage ")
        .replace(['🚣', '👨'], " farmer ")
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphabetic());
        let after_ok = text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphabetic() || c == 's');
        before_ok && after_ok
    })
}

/// Check a plan. `Ok(number of crossings)` if it gets everything across safely.
pub fn validate_plan(text: &str) -> Result<usize, PlanError> {
    let moves = parse_moves(text)?;
    if moves.is_empty() {
        return Err(PlanError::NoCrossings);
    }
    // false = near bank, true = far bank; index 3 is the farmer.
    let mut far = [false; 4];
    for (n, m) in moves.iter().enumerate() {
        let farmer = far[3];
        if let Some(item) = m.0 {
            if far[item] != farmer {
                return Err(PlanError::WrongBank {
                    crossing: n + 1,
                    item: ITEMS[item],
                });
            }
            far[item] = !farmer;
        }
        far[3] = !farmer;
        let unattended = |a: usize, b: usize| far[a] == far[b] && far[a] != far[3];
        if unattended(0, 1) {
            return Err(PlanError::Eaten {
                crossing: n + 1,
                eater: "wolf",
                eaten: "goat",
            });
        }
        if unattended(1, 2) {
            return Err(PlanError::Eaten {
                crossing: n + 1,
                eater: "goat",
                eaten: "cabbage",
            });
        }
        if far.iter().all(|x| *x) {
            return Ok(n + 1);
        }
    }
    Err(PlanError::Incomplete {
        crossings: moves.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSIC: &str = "1. The farmer takes the goat across.\n2. He returns alone.\n3. He takes the wolf across.\n4. He brings the goat back.\n5. He takes the cabbage across.\n6. He returns alone.\n7. He takes the goat across.";

    #[test]
    fn classic_plan_is_valid() {
        assert_eq!(validate_plan(CLASSIC), Ok(7));
        // The mirror solution (cabbage first) is valid too.
        let mirror = "Take the goat over, then return alone. Take the cabbage over and bring the goat back. Take the wolf over and return alone. Finally take the goat over.";
        assert_eq!(validate_plan(mirror), Ok(7));
    }

    #[test]
    fn unsafe_plans_are_rejected() {
        let e =
            validate_plan("Take the wolf across. Return alone. Take the goat across.").unwrap_err();
        assert!(
            e.to_string()
                .contains("goat is left alone with the cabbage"),
            "{e}"
        );
        let e = validate_plan(
            "Take the goat across. Return alone. Take the wolf across. Return alone.",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("wolf is left alone with the goat"),
            "{e}"
        );
        assert_eq!(validate_plan("They all swim."), Err(PlanError::NoCrossings));
        assert_eq!(
            validate_plan(
                "1. Take the wolf and the goat across.\n2. Return.\n3. Take the cabbage."
            ),
            Err(PlanError::TwoItems { crossing: 1 })
        );
    }

    #[test]
    fn restating_the_puzzle_does_not_count_as_a_move() {
        let text = format!(
            "The farmer must take the wolf, the goat and the cabbage across the river.\n\n{CLASSIC}"
        );
        assert_eq!(validate_plan(&text), Ok(7));
    }

    #[test]
    fn commentary_about_being_left_alone_is_not_an_empty_trip() {
        let text = "1. Take the goat across, so the wolf is not left alone with the goat.\n2. Return alone.\n3. Take the wolf across, leaving the cabbage alone on the near bank.\n4. Bring the goat back so it is not left alone with the wolf.\n5. Take the cabbage across; the goat waits alone.\n6. Go back alone.\n7. Take the goat across.";
        assert_eq!(validate_plan(text), Ok(7));
    }

    #[test]
    fn the_last_list_is_the_plan() {
        let text = format!("First attempt:\n1. Take the wolf across.\n2. Return alone.\n3. Take the goat.\nThat fails. Correct plan:\n{CLASSIC}");
        assert_eq!(validate_plan(&text), Ok(7));
    }

    #[test]
    fn arrows_and_trips() {
        let text = "Trip 1: farmer + goat →\nTrip 2: farmer ← alone\nTrip 3: farmer + wolf →\nTrip 4: farmer + goat ←\nTrip 5: farmer + cabbage →\nTrip 6: farmer ← alone\nTrip 7: farmer + goat →";
        assert_eq!(validate_plan(text), Ok(7));
    }

    #[test]
    fn incomplete_plan_is_rejected() {
        assert_eq!(
            validate_plan("Take the goat across. Return alone."),
            Err(PlanError::Incomplete { crossings: 2 })
        );
    }
}
