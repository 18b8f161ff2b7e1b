//! Process-wide sets of shared strings: one copy of each text that many cached objects hold.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Texts kept without a holder before [`Interner::intern`] drops them, at least.
const PRUNE_FLOOR: usize = 64;

/// A set of shared texts, each kept once.
#[derive(Debug, Default)]
struct Texts {
    shared: HashSet<Arc<str>>,
    /// How many texts there may be before the unused ones are dropped.
    prune_at: usize,
}

impl Texts {
    /// The shared copy of `text`, made if new. Texts nobody holds any more are dropped when the
    /// set has doubled since the last time, so it stays within twice those in use.
    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.shared.get(text) {
            return shared.clone();
        }
        if self.shared.len() >= self.prune_at {
            self.shared.retain(|s| Arc::strong_count(s) > 1);
            self.shared.shrink_to_fit();
            self.prune_at = (self.shared.len() * 2).max(PRUNE_FLOOR);
        }
        let shared: Arc<str> = Arc::from(text);
        self.shared.insert(shared.clone());
        shared
    }
}

/// A process-wide set of shared texts (use one per kind of text, in a `static`).
#[derive(Debug)]
pub(crate) struct Interner(Mutex<Option<Texts>>);

impl Interner {
    /// An empty set.
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The shared copy of `text`.
    pub(crate) fn intern(&self, text: &str) -> Arc<str> {
        match self.0.lock() {
            Ok(mut texts) => texts.get_or_insert_with(Texts::default).intern(text),
            Err(_) => Arc::from(text),
        }
    }

    /// How many texts the set keeps.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0
            .lock()
            .map_or(0, |texts| texts.as_ref().map_or(0, |t| t.shared.len()))
    }
}

/// Namespaces, apiVersions and kinds of cached children: a handful of texts for thousands of
/// children.
pub(crate) static WORDS: Interner = Interner::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_text() {
        let interner = Interner::new();
        let a = interner.intern("default");
        assert!(Arc::ptr_eq(&a, &interner.intern("default")));
        assert_eq!(interner.len(), 1);
    }

    #[test]
    fn unused_texts_are_dropped_once_the_set_doubles() {
        let interner = Interner::new();
        let kept = interner.intern("kept");
        for i in 0..PRUNE_FLOOR * 3 {
            drop(interner.intern(&format!("gone-{i}")));
        }
        assert!(interner.len() <= PRUNE_FLOOR * 2, "{} kept", interner.len());
        assert!(Arc::ptr_eq(&kept, &interner.intern("kept")));
    }
}
