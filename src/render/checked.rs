//! Merged values that passed validation, remembered with their template form: the operator
//! renders the same custom resource again on every resync and drift, and validating its values
//! against the chart's schema (and converting them for Tera) each time would redo the same work.
//!
//! An entry is found by a hash of the values and used only when the values are equal to it, so
//! nothing unvalidated is ever taken for validated.

use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;

/// Value sets remembered per renderer (the oldest goes first).
const REMEMBERED: usize = 16;

/// Validated values and their Tera form, newest last.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    entries: Mutex<Vec<(u64, Value, tera::Value)>>,
}

impl Checked {
    /// The Tera form of `values`, when these very values were validated before.
    pub(crate) fn find(&self, values: &Value) -> Option<tera::Value> {
        let hash = digest(values);
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .rev()
            .find(|(h, v, _)| *h == hash && v == values)
            .map(|(_, _, t)| t.clone())
    }

    /// Remembers that `values` passed validation, with their Tera form.
    pub(crate) fn remember(&self, values: &Value, form: &tera::Value) {
        let hash = digest(values);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(h, v, _)| !(*h == hash && v == values));
            if entries.len() >= REMEMBERED {
                entries.remove(0);
            }
            entries.push((hash, values.clone(), form.clone()));
        }
    }
}

/// A hash of a JSON value (maps in their order: equal maps in another order only miss).
fn digest(value: &Value) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    feed(value, &mut hasher);
    hasher.finish()
}

fn feed(value: &Value, h: &mut impl Hasher) {
    match value {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            b.hash(h);
        }
        Value::Number(n) => {
            h.write_u8(2);
            n.hash(h);
        }
        Value::String(s) => {
            h.write_u8(3);
            s.hash(h);
        }
        Value::Array(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            items.iter().for_each(|i| feed(i, h));
        }
        Value::Object(map) => {
            h.write_u8(5);
            h.write_usize(map.len());
            for (k, v) in map {
                k.hash(h);
                feed(v, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_equal_values_are_found() {
        let checked = Checked::default();
        let a = json!({"a": 1, "l": [1, "x", null], "m": {"k": true}});
        assert!(checked.find(&a).is_none());
        checked.remember(&a, &tera::Value::from_serializable(&a));
        assert!(checked.find(&a).is_some());
        for other in [
            json!({"a": 2, "l": [1, "x", null], "m": {"k": true}}),
            json!({"a": 1, "l": [1, "x"], "m": {"k": true}}),
            json!({"a": 1, "l": [1, "x", null], "m": {"k": "true"}}),
            json!({"a": 1.0, "l": [1, "x", null], "m": {"k": true}}),
        ] {
            assert!(checked.find(&other).is_none(), "{other}");
        }
        for i in 0..REMEMBERED {
            let v = json!({"i": i});
            checked.remember(&v, &tera::Value::from_serializable(&v));
        }
        assert!(checked.find(&a).is_none(), "the oldest entry goes first");
    }
}
