//! JSON numbers as the Go API server writes them back.

use serde_json::{Number, Value};

/// A whole float as an integer (`1.0` → `1`), as Go's JSON round trip writes it; any other
/// value is returned unchanged.
pub fn whole_number(value: &Value) -> Value {
    match value.as_f64() {
        Some(f) if value.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Value::Number(Number::from(f as i64))
        }
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_floats_become_integers_and_nothing_else_changes() {
        for (input, expected) in [
            (json!(1.0), json!(1)),
            (json!(-65535.0), json!(-65535)),
            (json!(1.5), json!(1.5)),
            (json!(7), json!(7)),
            (json!(1.0e16), json!(1.0e16)),
            (json!("1.0"), json!("1.0")),
        ] {
            assert_eq!(whole_number(&input), expected, "{input}");
        }
    }
}
