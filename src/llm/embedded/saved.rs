//! Evicted sequences kept in host memory, so a conversation can come back to its KV cache after
//! other conversations used its sequence (llama.cpp's server does the same with `--cache-ram`).
//!
//! The course debate runs ten conversations (five questions, two agents) through four
//! sequences: without this, an agent's next round almost never finds its previous round still
//! in a sequence. Generic over the token and state types so it is tested without a model.

struct Saved<T, S> {
    tokens: Vec<T>,
    state: S,
    bytes: usize,
    used_at: u64,
}

pub(super) struct SavedSequences<T, S> {
    entries: Vec<Saved<T, S>>,
    budget_bytes: usize,
    clock: u64,
}

impl<T: PartialEq, S> SavedSequences<T, S> {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            entries: Vec::new(),
            budget_bytes,
            clock: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// Keep `state`, the KV cache of `tokens`. An entry whose tokens are a prefix of these is
    /// dropped (this one serves every prompt it served, and more); if an entry already extends
    /// these tokens, nothing is added. The least recently used entries go to stay in budget.
    pub fn insert(&mut self, tokens: Vec<T>, state: S, bytes: usize) {
        if bytes > self.budget_bytes || self.entries.iter().any(|e| e.tokens.starts_with(&tokens)) {
            return;
        }
        self.entries.retain(|e| !tokens.starts_with(&e.tokens));
        while self.bytes() + bytes > self.budget_bytes {
            let oldest = (0..self.entries.len())
                .min_by_key(|&i| self.entries[i].used_at)
                .expect("over budget means there are entries");
            self.entries.swap_remove(oldest);
        }
        self.clock += 1;
        self.entries.push(Saved {
            tokens,
            state,
            bytes,
            used_at: self.clock,
        });
    }

    /// The entry sharing the longest prefix with `prompt` (at least one token), as its index and
    /// the shared length; marks it used.
    pub fn best(&mut self, prompt: &[T]) -> Option<(usize, usize)> {
        let (index, common) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt)))
            .filter(|&(_, common)| common > 0)
            .max_by_key(|&(_, common)| common)?;
        self.clock += 1;
        self.entries[index].used_at = self.clock;
        Some((index, common))
    }

    pub fn state(&self, index: usize) -> &S {
        &self.entries[index].state
    }

    pub fn len_of(&self, index: usize) -> usize {
        self.entries[index].tokens.len()
    }

    /// Drop an entry (a sequence now holds all of it again).
    pub fn remove(&mut self, index: usize) {
        self.entries.swap_remove(index);
    }
}

pub(super) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_shared_prefix_is_found() {
        let mut s = SavedSequences::new(100);
        s.insert(vec![1, 2, 3], "a", 10);
        s.insert(vec![1, 5], "b", 10);
        assert_eq!(s.best(&[1, 2, 3, 4]), Some((0, 3)));
        let (i, common) = s.best(&[1, 5, 6]).unwrap();
        assert_eq!((*s.state(i), common), ("b", 2));
        assert_eq!(s.best(&[9]), None);
    }

    #[test]
    fn a_longer_save_replaces_its_prefix_and_a_shorter_one_is_not_kept() {
        let mut s = SavedSequences::new(100);
        s.insert(vec![1, 2], "short", 10);
        s.insert(vec![1, 2, 3, 4], "long", 20);
        assert_eq!(s.bytes(), 20);
        s.insert(vec![1, 2, 3], "shorter again", 15);
        assert_eq!(s.bytes(), 20);
        let (i, _) = s.best(&[1, 2]).unwrap();
        assert_eq!(*s.state(i), "long");
    }

    #[test]
    fn the_least_recently_used_go_first_to_stay_in_budget() {
        let mut s = SavedSequences::new(30);
        s.insert(vec![1], "one", 10);
        s.insert(vec![2], "two", 10);
        s.insert(vec![3], "three", 10);
        s.best(&[1]); // "one" is now more recent than "two"
        s.insert(vec![4], "four", 10);
        assert_eq!(s.best(&[2]), None);
        assert!(s.best(&[1]).is_some() && s.best(&[3]).is_some() && s.best(&[4]).is_some());
        // Larger than the whole budget: not kept at all.
        s.insert(vec![5], "huge", 31);
        assert_eq!(s.best(&[5]), None);
        assert_eq!(s.bytes(), 30);
    }
}
