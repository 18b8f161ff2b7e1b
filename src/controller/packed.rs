//! Cached JSON text with its per-object strings cut out, so that siblings of many resources share one copy.
//!
//! The children of two resources of one chart differ mostly in a few strings: their names, the
//! owner's name and uid, the desired-hash annotation. A [`Packed`] text keeps those strings
//! apart (its fills) and puts one placeholder byte in their place; what remains (the skeleton)
//! is the same for every resource whose values take the same path through the chart, and is
//! kept once for all of them ([`intern`]). Placeholders are the bytes `0x01`..: compact JSON
//! never holds a raw control character (serde_json escapes them inside strings), so a
//! placeholder can never be mistaken for the text's own content, and expanding gives back the
//! exact text.

use std::sync::Arc;

use super::interned::Interner;

/// The most strings cut out of one text (placeholders are the bytes 1 to `MAX_FILLS`).
const MAX_FILLS: usize = 8;

/// Fills shorter than this stay in the skeleton: cutting out a short string (a one-letter
/// name) would cut it out of unrelated words too, which is correct but shares nothing.
const MIN_FILL: usize = 4;

/// A JSON text as a shared skeleton and the strings cut out of it.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    skeleton: Arc<str>,
    /// The cut-out strings, each followed by a NUL byte (they hold no control characters).
    fills: Box<str>,
}

impl Packed {
    /// Packs `text` (compact JSON), cutting out every occurrence of each of `fills` (longest
    /// first; empty, short, repeated and control-character-holding strings are left in).
    pub(crate) fn new(text: &str, fills: &[&str]) -> Self {
        let mut cut: Vec<&str> = Vec::new();
        let mut candidates: Vec<&str> = fills
            .iter()
            .copied()
            .filter(|f| f.len() >= MIN_FILL && !f.bytes().any(|b| b < 0x20))
            .collect();
        // Longest first: a child named after its owner plus a suffix keeps its own name whole.
        candidates.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut skeleton = text.to_string();
        for fill in candidates {
            if cut.len() == MAX_FILLS || cut.contains(&fill) {
                continue;
            }
            let placeholder = char::from(u8::try_from(cut.len() + 1).unwrap_or(0));
            let Some(replaced) = replace_all(&skeleton, fill, placeholder) else {
                continue;
            };
            cut.push(fill);
            skeleton = replaced;
        }
        let mut joined = String::with_capacity(cut.iter().map(|f| f.len() + 1).sum());
        for fill in &cut {
            joined.push_str(fill);
            joined.push('\0');
        }
        Self {
            skeleton: intern(&skeleton),
            fills: joined.into_boxed_str(),
        }
    }

    /// The text as it was packed.
    pub(crate) fn expand(&self) -> String {
        let fills: Vec<&str> = self.fills.split_terminator('\0').collect();
        let mut text = String::with_capacity(self.skeleton.len() + self.fills.len() * 2);
        let mut rest = &*self.skeleton;
        // Placeholders are single bytes that never occur inside a multi-byte character.
        while let Some(at) = rest.bytes().position(|b| (1..=8).contains(&b)) {
            text.push_str(&rest[..at]);
            let index = usize::from(rest.as_bytes()[at]) - 1;
            text.push_str(fills.get(index).copied().unwrap_or_default());
            rest = &rest[at + 1..];
        }
        text.push_str(rest);
        text
    }

    /// Whether `self` and `other` share one skeleton.
    #[cfg(test)]
    pub(crate) fn shares_skeleton_with(&self, other: &Packed) -> bool {
        Arc::ptr_eq(&self.skeleton, &other.skeleton)
    }
}

/// `text` with every occurrence of `fill` (left to right, not overlapping, as
/// [`str::replace`] finds them) replaced by `placeholder`; `None` when there is none. memchr's
/// substring search: the standard library's took most of the time of packing a watched object.
fn replace_all(text: &str, fill: &str, placeholder: char) -> Option<String> {
    let finder = memchr::memmem::Finder::new(fill.as_bytes());
    let mut found = finder.find_iter(text.as_bytes()).peekable();
    found.peek()?;
    let mut replaced = String::with_capacity(text.len());
    let mut last = 0;
    for at in found {
        // Both ends are on character boundaries: `fill` is whole UTF-8, and so is `text`.
        replaced.push_str(text.get(last..at).unwrap_or_default());
        replaced.push(placeholder);
        last = at + fill.len();
    }
    replaced.push_str(text.get(last..).unwrap_or_default());
    Some(replaced)
}

/// The skeletons in use, each kept once.
static SKELETONS: Interner = Interner::new();

/// The process-wide shared copy of `text`.
fn intern(text: &str) -> Arc<str> {
    SKELETONS.intern(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_gives_back_the_text() {
        let text = r#"{"metadata":{"name":"ws-00001-config","labels":{"instance":"ws-00001","uid":"0b5e-11f0"}},"data":{"k":"ws-00001 ws-00001"}}"#;
        let packed = Packed::new(text, &["ws-00001", "ws-00001-config", "0b5e-11f0"]);
        assert_eq!(packed.expand(), text);
        assert!(!packed.skeleton.contains("ws-00001"));
        assert!(!packed.skeleton.contains("0b5e-11f0"));
    }

    #[test]
    fn siblings_of_different_owners_share_one_skeleton() {
        let of = |name: &str, uid: &str| {
            let text = format!(
                r#"{{"metadata":{{"name":"{name}","ownerReferences":[{{"name":"{name}","uid":"{uid}"}}]}},"data":{{"nginx.conf":"listen 80;"}}}}"#
            );
            (Packed::new(&text, &[name, uid]), text)
        };
        let (a, a_text) = of("alpha-1", "uid-aaaa");
        let (b, b_text) = of("beta-22", "uid-bbbb");
        assert!(a.shares_skeleton_with(&b));
        assert_eq!(a.expand(), a_text);
        assert_eq!(b.expand(), b_text);
        let (other, _) = of("gamma-3", "uid-cccc");
        let changed = Packed::new(&a_text.replace("80", "81"), &["alpha-1", "uid-aaaa"]);
        assert!(other.shares_skeleton_with(&a));
        assert!(!changed.shares_skeleton_with(&a));
    }

    #[test]
    fn short_empty_and_control_fills_stay_in_the_text() {
        let text = r#"{"a":"x","b":"line\nbreak","c":""}"#;
        let packed = Packed::new(text, &["x", "", "line\nbreak", "\"a\":\"x\""]);
        assert_eq!(packed.expand(), text);
        // Only the key and its value were long enough and free of control characters.
        assert_eq!(&*packed.fills, "\"a\":\"x\"\0");
    }

    #[test]
    fn texts_with_many_fills_keep_the_first_eight() {
        let names: Vec<String> = (0..10).map(|i| format!("name-{i:04}")).collect();
        let text = format!("[\"{}\"]", names.join("\",\""));
        let fills: Vec<&str> = names.iter().map(String::as_str).collect();
        let packed = Packed::new(&text, &fills);
        assert_eq!(packed.expand(), text);
        assert_eq!(packed.fills.split_terminator('\0').count(), MAX_FILLS);
    }

    #[test]
    fn replacing_finds_what_str_replace_finds() {
        for (text, fill) in [
            ("aaaa", "aa"),
            ("xabcabcx", "abc"),
            ("héllo wörld héllo", "héllo"),
            ("none here", "absent"),
            ("abab", "abab"),
        ] {
            let expected = text.contains(fill).then(|| text.replace(fill, "\u{1}"));
            assert_eq!(
                replace_all(text, fill, '\u{1}'),
                expected,
                "{text} / {fill}"
            );
        }
    }
}
