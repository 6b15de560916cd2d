//! Which of the engine's sequences a new request runs in, and how much of its prompt that
//! sequence's KV cache already holds (prompt caching, as llama.cpp's server does with its slots).
//!
//! A finished request leaves its tokens in its sequence. The next request picks the free
//! sequence sharing the longest token prefix with its prompt and evaluates only the rest: a
//! debate round extends the agent's previous conversation, probe samples share a strategy's
//! prompt. Pure bookkeeping, generic over the token type so it is tested without a model.

use super::saved::common_prefix;

/// Where a request runs and how many of its prompt tokens are already evaluated there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assignment<T> {
    pub seq: i32,
    /// Tokens at the start of the prompt whose KV entries are kept; the caller drops the rest of
    /// the sequence and evaluates the prompt from here.
    pub reused: usize,
    /// What the sequence held before (the caller may save it before dropping its tail).
    pub held: Vec<T>,
}

enum State<T> {
    Busy,
    Free {
        /// The tokens whose KV entries this sequence holds, in position order.
        held: Vec<T>,
        /// When it was last released (a logical clock): the least recent is evicted first.
        released_at: u64,
    },
}

pub(super) struct SequencePool<T> {
    states: Vec<State<T>>,
    clock: u64,
    reuse: bool,
}

impl<T: PartialEq> SequencePool<T> {
    /// `n` empty sequences; with `reuse` off every request starts from an empty sequence.
    pub fn new(n: usize, reuse: bool) -> Self {
        Self {
            states: (0..n)
                .map(|_| State::Free {
                    held: Vec::new(),
                    released_at: 0,
                })
                .collect(),
            clock: 0,
            reuse,
        }
    }

    pub fn has_free(&self) -> bool {
        self.states.iter().any(|s| matches!(s, State::Free { .. }))
    }

    /// Take a free sequence for `prompt`, or `None` when all are busy.
    ///
    /// The rule: among free sequences that keep at least half of what they hold (an empty one
    /// keeps all of nothing), the one with the longest common prefix, then the one that throws
    /// away least. When none qualifies, the least recently used is evicted: a one-off request
    /// that shares only the chat template's first tokens with a long conversation must not
    /// destroy that conversation while another sequence is cheaper to give up.
    ///
    /// Among equals, the lowest sequence id wins: llama.cpp decodes consecutive sequence ids in
    /// one micro-batch, so busy sequences are best packed at the bottom.
    ///
    /// At least the prompt's last token is always evaluated, because its logits give the first
    /// answer token; so a repeated prompt reuses all but one token.
    pub fn acquire(&mut self, prompt: &[T]) -> Option<Assignment<T>> {
        let usable_limit = prompt.len().saturating_sub(1);
        let candidates = self
            .states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                State::Free { held, released_at } => {
                    let common = if self.reuse {
                        common_prefix(held, prompt).min(usable_limit)
                    } else {
                        0
                    };
                    Some((i, common, held.len() - common.min(held.len()), *released_at))
                }
                State::Busy => None,
            })
            .collect::<Vec<_>>();
        let worth_keeping = candidates
            .iter()
            .filter(|(_, common, lost, _)| *lost <= *common)
            .max_by(|a, b| {
                a.1.cmp(&b.1)
                    .then(b.2.cmp(&a.2))
                    .then(b.3.cmp(&a.3))
                    // Then the lowest id: llama.cpp batches sequences whose ids are consecutive.
                    .then(b.0.cmp(&a.0))
            });
        let least_recent = || candidates.iter().min_by_key(|c| c.3);
        let &(index, common, _, _) = worth_keeping.or_else(least_recent)?;
        let held = match std::mem::replace(&mut self.states[index], State::Busy) {
            State::Free { held, .. } => held,
            State::Busy => unreachable!("candidates are free"),
        };
        Some(Assignment {
            seq: index as i32,
            reused: common,
            held,
        })
    }

    /// Give a sequence back, holding `held` (the tokens now in its KV cache, in order).
    pub fn release(&mut self, seq: i32, held: Vec<T>) {
        self.clock += 1;
        let held = if self.reuse { held } else { Vec::new() };
        self.states[seq as usize] = State::Free {
            held,
            released_at: self.clock,
        };
    }
}

/// A prompt may share a longer prefix with a request still at work in another sequence than with
/// anything free or saved: the two agents of a debate question send the same first prompt at the
/// same moment. Copying that sequence's KV entries (once it has evaluated them) costs a memory
/// copy; evaluating them again costs a forward pass per token.
///
/// `busy` gives each running request's id and the tokens its sequence holds or will hold (its
/// prompt while that is being evaluated). Returns the request to copy from and how many prompt
/// tokens to take from it, when that beats `reused` (what the request's own sequence already
/// holds) by at least `min_gain` tokens. At most all but the prompt's last token are taken, as in
/// `acquire`.
pub(super) fn best_donor<'a, T: PartialEq + 'a>(
    prompt: &[T],
    reused: usize,
    min_gain: usize,
    busy: impl IntoIterator<Item = (u64, &'a [T])>,
) -> Option<(u64, usize)> {
    let usable_limit = prompt.len().saturating_sub(1);
    busy.into_iter()
        .map(|(id, tokens)| (id, common_prefix(tokens, prompt).min(usable_limit)))
        .filter(|&(_, common)| common >= reused + min_gain)
        // The longest; among equals the earliest request (it is furthest along).
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> SequencePool<u32> {
        SequencePool::new(n, true)
    }

    #[test]
    fn a_longer_conversation_continues_in_the_sequence_that_holds_its_start() {
        let mut p = pool(4);
        let a = p.acquire(&[1, 2, 3]).unwrap();
        assert_eq!(a.reused, 0);
        p.release(a.seq, vec![1, 2, 3, 10, 11]);
        let b = p.acquire(&[1, 2, 3, 10, 11, 12, 13]).unwrap();
        assert_eq!((b.seq, b.reused), (a.seq, 5));
        assert_eq!(b.held, vec![1, 2, 3, 10, 11]);
    }

    #[test]
    fn the_same_prompt_again_reevaluates_its_last_token() {
        let mut p = pool(2);
        let a = p.acquire(&[1, 2, 3]).unwrap();
        p.release(a.seq, vec![1, 2, 3]);
        assert_eq!(p.acquire(&[1, 2, 3]).unwrap().reused, 2);
    }

    #[test]
    fn a_one_off_request_takes_the_least_valuable_sequence() {
        let mut p = pool(2);
        let a = p.acquire(&[1, 2, 3, 4, 5, 6]).unwrap();
        let b = p.acquire(&[9]).unwrap();
        p.release(a.seq, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        p.release(b.seq, vec![9, 9]);
        // It shares two tokens with the long conversation (the template's start) and none with
        // the short one. Neither is worth keeping (2 of 8 kept; 0 of 2 kept), so the least
        // recently released goes: `a`, taking its two shared tokens along.
        let c = p.acquire(&[1, 2, 40, 41]).unwrap();
        assert_eq!((c.seq, c.reused), (a.seq, 2));
        // With an empty sequence free, the template-sharing request takes that instead.
        let mut p = pool(2);
        let a = p.acquire(&[1, 2, 3, 4, 5, 6]).unwrap();
        p.release(a.seq, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        let c = p.acquire(&[1, 2, 40, 41]).unwrap();
        assert_ne!(c.seq, a.seq);
        assert_eq!(c.reused, 0);
    }

    #[test]
    fn the_longest_shared_prefix_wins_then_the_least_recent_is_evicted() {
        let mut p = pool(3);
        let s: Vec<_> = (0..3).map(|_| p.acquire(&[0]).unwrap().seq).collect();
        p.release(s[0], vec![1, 2, 3]);
        p.release(s[1], vec![1, 2, 3, 4, 5]);
        p.release(s[2], vec![7, 7]);
        assert_eq!(p.acquire(&[1, 2, 3, 4, 5, 6]).unwrap().seq, s[1]);
        // Nothing shared with what is left: the least recently released of s[0], s[2] goes.
        let next = p.acquire(&[8, 8]).unwrap();
        assert_eq!((next.seq, next.reused, next.held), (s[0], 0, vec![1, 2, 3]));
        assert_eq!(p.acquire(&[8, 8]).unwrap().seq, s[2]);
        assert!(!p.has_free());
        assert_eq!(p.acquire(&[8]), None);
    }

    #[test]
    fn empty_sequences_are_taken_from_the_lowest_id_up() {
        let mut p = pool(4);
        let ids: Vec<_> = (0..4).map(|i| p.acquire(&[i]).unwrap().seq).collect();
        assert_eq!(ids, vec![0, 1, 2, 3]);
    }

    #[test]
    fn without_reuse_every_request_starts_empty() {
        let mut p = SequencePool::new(1, false);
        let a = p.acquire(&[1, 2, 3]).unwrap();
        p.release(a.seq, vec![1, 2, 3]);
        assert_eq!(p.acquire(&[1, 2, 3, 4]).unwrap().reused, 0);
    }

    #[test]
    fn a_prompt_copies_from_the_busy_request_sharing_most_of_it() {
        let prompt = [1, 2, 3, 4, 5, 6];
        let a: &[u32] = &[1, 2, 3, 9];
        let b: &[u32] = &[1, 2, 3, 4, 5, 6];
        let c: &[u32] = &[1, 2, 3, 4, 5, 6, 7];
        // b and c share the whole prompt; only all but its last token is taken; b came first.
        assert_eq!(
            best_donor(&prompt, 0, 2, [(3, a), (4, b), (5, c)]),
            Some((4, 5))
        );
        // Not worth a copy when the own sequence already holds nearly as much.
        assert_eq!(best_donor(&prompt, 4, 2, [(4, b)]), None);
        assert_eq!(best_donor(&prompt, 3, 2, [(4, b)]), Some((4, 5)));
        assert_eq!(best_donor::<u32>(&prompt, 0, 2, []), None);
    }
}
