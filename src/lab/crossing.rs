//! A small state-space validator for wolf–goat–cabbage crossing plans written in prose.
//!
//! The plan is read as a sequence of crossings: each sentence or list item with a crossing verb
//! moves the farmer across, carrying the item named right after the verb (or nothing when the
//! farmer goes alone). The simulation rejects a plan that leaves the wolf with the goat or the
//! goat with the cabbage unattended, or that carries an item from the wrong bank.

const ITEMS: [&str; 3] = ["wolf", "goat", "cabbage"];
const VERBS: [&str; 14] = [
    "take",
    "takes",
    "bring",
    "brings",
    "carry",
    "carries",
    "cross",
    "crosses",
    "row",
    "rows",
    "return",
    "returns",
    "go back",
    "goes back",
];
const ALONE: [&str; 6] = [
    "alone",
    "empty",
    "by himself",
    "by herself",
    "nothing",
    "unaccompanied",
];

/// One crossing: which item (if any) goes with the farmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move(pub Option<usize>);

/// Read the moves out of a plan.
pub fn parse_moves(text: &str) -> Vec<Move> {
    let lower = text.to_lowercase().replace("**", "");
    // When the plan is a numbered or "Step n" list, read only the list: the prose around it
    // often restates the puzzle ("the farmer must take the wolf, goat and cabbage across").
    let is_step = |l: &str| {
        let l = l.trim_start_matches(['-', '*', ' ']);
        l.starts_with("step")
            || l.chars().next().is_some_and(|c| c.is_ascii_digit())
                && l.chars().take(3).any(|c| c == '.' || c == ')' || c == ':')
    };
    let lines: Vec<&str> = lower.lines().collect();
    let listed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| is_step(l.trim()))
        .collect();
    let body = if listed.len() >= 3 {
        listed.join("\n")
    } else {
        lower.clone()
    };
    let mut moves = Vec::new();
    for piece in body
        .split(['\n', ';'])
        .flat_map(|l| l.split(". "))
        .map(|s| {
            s.trim()
                .trim_start_matches(|c: char| {
                    c.is_ascii_digit() || c == '.' || c == ')' || c == ':' || c == ' '
                })
                .trim_end_matches('.')
        })
        .filter(|s| !s.is_empty())
    {
        // A sentence can hold two crossings: "take the goat over and return alone".
        for clause in piece
            .split(" and ")
            .flat_map(|c| c.split(", then "))
            .flat_map(|c| c.split(" then "))
        {
            let Some(verb_at) = VERBS.iter().filter_map(|v| find_word(clause, v)).min() else {
                continue;
            };
            let after = &clause[verb_at..];
            let alone = ALONE.iter().any(|a| after.contains(a));
            let item = ITEMS
                .iter()
                .enumerate()
                .filter_map(|(k, name)| after.find(name).map(|at| (at, k)))
                .min()
                .map(|(_, k)| k);
            moves.push(Move(if alone { None } else { item }));
        }
    }
    moves
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before_ok = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphabetic();
        let end = i + word.len();
        let after_ok = end >= text.len() || !text.as_bytes()[end].is_ascii_alphabetic();
        before_ok && after_ok
    })
}

/// Check a plan. `Ok(number of crossings)` if it gets everything across safely.
pub fn validate_plan(text: &str) -> Result<usize, String> {
    let moves = parse_moves(text);
    if moves.is_empty() {
        return Err("no crossings found in the answer".into());
    }
    // false = near bank, true = far bank; index 3 is the farmer.
    let mut far = [false; 4];
    for (n, m) in moves.iter().enumerate() {
        let farmer = far[3];
        if let Some(item) = m.0 {
            if far[item] != farmer {
                return Err(format!(
                    "crossing {}: the {} is not on the farmer's bank",
                    n + 1,
                    ITEMS[item]
                ));
            }
            far[item] = !farmer;
        }
        far[3] = !farmer;
        let unattended = |a: usize, b: usize| far[a] == far[b] && far[a] != far[3];
        if unattended(0, 1) {
            return Err(format!(
                "after crossing {}: the wolf is left alone with the goat",
                n + 1
            ));
        }
        if unattended(1, 2) {
            return Err(format!(
                "after crossing {}: the goat is left alone with the cabbage",
                n + 1
            ));
        }
        if far.iter().all(|x| *x) {
            return Ok(n + 1);
        }
    }
    Err(format!(
        "after {} crossings not everything is across",
        moves.len()
    ))
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
        assert!(e.contains("goat is left alone with the cabbage"), "{e}");
        let e = validate_plan(
            "Take the goat across. Return alone. Take the wolf across. Return alone.",
        )
        .unwrap_err();
        assert!(e.contains("wolf is left alone with the goat"), "{e}");
        assert!(validate_plan("They all swim.").is_err());
    }

    #[test]
    fn restating_the_puzzle_does_not_count_as_a_move() {
        let text = format!("The farmer must take the wolf, the goat and the cabbage across the river.\n\n{CLASSIC}");
        assert_eq!(validate_plan(&text), Ok(7));
    }

    #[test]
    fn incomplete_plan_is_rejected() {
        assert!(validate_plan("Take the goat across. Return alone.")
            .unwrap_err()
            .contains("not everything"));
    }
}
