//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`): parsing and the API server's canonical form.
//!
//! The API server stores every quantity of a built-in object in canonical form: `0.5` becomes
//! `500m`, `1024Mi` becomes `1Gi`, the number `1` becomes the string `"1"`. A chart that writes
//! the long form would otherwise never match the live object. The rules follow
//! `k8s.io/apimachinery/pkg/api/resource` (`Quantity.CanonicalizeBytes`): the suffix family of
//! the input is kept (binary `Ki`…`Ei`, decimal `n`…`E`, or exponent `e3`), the mantissa is the
//! shortest integer, precision finer than `1n` rounds up, and binary values below 1024 or not
//! whole are written in decimal.

use serde_json::Value;

use crate::kinds::is_builtin_api;

/// How a quantity was written, which decides how it is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `Ki`, `Mi`, … (powers of 1024).
    BinarySi,
    /// `n`, `u`, `m`, none, `k`, `M`, … (powers of 1000).
    DecimalSi,
    /// `e3`, `E-6`, ….
    DecimalExponent,
}

/// A parsed quantity: `mantissa × 10^exponent`, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

/// The canonical form of `text`, or `None` when it is not a quantity this module can represent
/// exactly (then it is left as it is).
pub fn canonical(text: &str) -> Option<String> {
    parse(text).and_then(|q| format(&q))
}

/// The canonical form of a JSON quantity (a string or a number); `None` when it is neither.
pub fn canonical_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => canonical(text),
        Value::Number(n) => canonical(&n.to_string()),
        _ => None,
    }
}

/// Rewrites every quantity of a built-in object in canonical form, where the API server would:
/// container and pod-overhead `resources.limits`/`requests`, `emptyDir.sizeLimit`, claim
/// `resources.requests`/`limits`, PersistentVolume `capacity` and ResourceQuota `hard`. Objects
/// of other API groups (custom resources) are left alone: the server keeps their fields as sent.
pub fn canonicalize_object(object: &mut Value) {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !is_builtin_api(api_version) {
        return;
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    canonicalize_builtin(&kind, object);
}

/// Rewrites every quantity of a built-in object of `kind` in canonical form (see
/// [`canonicalize_object`], which also checks that the object is built in).
pub fn canonicalize_builtin(kind: &str, object: &mut Value) {
    match kind {
        "PersistentVolume" => canonicalize_map(object.pointer_mut("/spec/capacity")),
        "ResourceQuota" => canonicalize_map(object.pointer_mut("/spec/hard")),
        "LimitRange" => {
            if let Some(Value::Array(limits)) = object.pointer_mut("/spec/limits") {
                for limit in limits {
                    for field in [
                        "max",
                        "min",
                        "default",
                        "defaultRequest",
                        "maxLimitRequestRatio",
                    ] {
                        canonicalize_map(limit.get_mut(field));
                    }
                }
            }
        }
        _ => canonicalize_tree(object),
    }
}

/// Canonicalizes quantities wherever they sit in a workload or pod: `resources.limits` and
/// `resources.requests` maps, pod `overhead` and volume `sizeLimit`s.
fn canonicalize_tree(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "resources" => {
                        if let Some(resources) = child.as_object_mut() {
                            for (field, entry) in resources.iter_mut() {
                                if field == "limits" || field == "requests" {
                                    canonicalize_map(Some(entry));
                                }
                            }
                        }
                    }
                    "overhead" => canonicalize_map(Some(child)),
                    "sizeLimit" => canonicalize_one(child),
                    _ => canonicalize_tree(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize_tree),
        _ => {}
    }
}

fn canonicalize_map(map: Option<&mut Value>) {
    if let Some(Value::Object(map)) = map {
        map.values_mut().for_each(canonicalize_one);
    }
}

fn canonicalize_one(value: &mut Value) {
    if let Some(text) = canonical_value(value) {
        *value = Value::String(text);
    }
}

/// Parses `[+-]digits[.digits][suffix]`, the grammar of `resource.ParseQuantity`.
fn parse(text: &str) -> Option<Quantity> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let (format, base, power) = parse_suffix(suffix)?;
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    // Beyond 36 significant digits an i128 could overflow; such values are not canonicalized.
    if digits.len() > 36 {
        return None;
    }
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut exponent = -i32::try_from(fraction.len()).ok()?;
    if base == 2 {
        // × 1024^(power/10): exact in the mantissa.
        for _ in 0..power / 10 {
            mantissa = mantissa.checked_mul(1024)?;
        }
    } else {
        exponent = exponent.checked_add(power)?;
    }
    if negative {
        mantissa = -mantissa;
    }
    Some(round_up_to_nano(Quantity {
        mantissa,
        exponent,
        format,
    }))
}

/// The format, base and power of a suffix (`Ki` → binary, 2, 10; `m` → decimal, 10, -3).
fn parse_suffix(suffix: &str) -> Option<(Format, u32, i32)> {
    let binary = |power| Some((Format::BinarySi, 2, power));
    let decimal = |power| Some((Format::DecimalSi, 10, power));
    match suffix {
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let power = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let digits = power.strip_prefix(['+', '-']).unwrap_or(power);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((Format::DecimalExponent, 10, power.parse().ok()?))
        }
    }
}

/// Precision below one nano-unit rounds away from zero, as the API server does.
fn round_up_to_nano(q: Quantity) -> Quantity {
    if q.exponent >= -9 {
        return q;
    }
    let shift = (-9 - q.exponent).unsigned_abs();
    let (whole, rest) = match 10i128.checked_pow(shift) {
        Some(divisor) => (q.mantissa / divisor, q.mantissa % divisor),
        // Far below 1n: only the direction is left.
        None => (0, q.mantissa),
    };
    Quantity {
        mantissa: whole + rest.signum(),
        exponent: -9,
        format: q.format,
    }
}

fn format(q: &Quantity) -> Option<String> {
    if q.mantissa == 0 {
        return Some("0".to_string());
    }
    let mut format = q.format;
    if format == Format::BinarySi {
        let whole = whole_value(q);
        match whole {
            Some(w) if w.abs() >= 1024 => return Some(format_binary(w)),
            _ => format = Format::DecimalSi,
        }
    }
    // Shortest integer mantissa with an exponent that is a multiple of 3.
    let mut mantissa = q.mantissa;
    let mut exponent = q.exponent;
    while exponent.rem_euclid(3) != 0 {
        mantissa = mantissa.checked_mul(10)?;
        exponent -= 1;
    }
    while mantissa % 1000 == 0 && exponent < 18 {
        mantissa /= 1000;
        exponent += 3;
    }
    let suffix = match format {
        Format::DecimalExponent if exponent == 0 => String::new(),
        Format::DecimalExponent => format!("e{exponent}"),
        _ => decimal_suffix(exponent)?.to_string(),
    };
    Some(format!("{mantissa}{suffix}"))
}

/// The value as a whole number, if it is one.
fn whole_value(q: &Quantity) -> Option<i128> {
    if q.exponent >= 0 {
        let mut value = q.mantissa;
        for _ in 0..q.exponent {
            value = value.checked_mul(10)?;
        }
        Some(value)
    } else {
        let divisor = 10i128.checked_pow(q.exponent.unsigned_abs())?;
        (q.mantissa % divisor == 0).then_some(q.mantissa / divisor)
    }
}

fn format_binary(mut value: i128) -> String {
    let mut power = 0;
    while value % 1024 == 0 && power < 6 {
        value /= 1024;
        power += 1;
    }
    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
    format!("{value}{suffix}")
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms_match_the_api_server() {
        for (input, expected) in [
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("1000m", "1"),
            ("1", "1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1500m", "1500m"),
            ("2000000", "2M"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("100Mi", "100Mi"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1E6", "1e6"),
            ("0", "0"),
            ("0Mi", "0"),
            ("-0.5", "-500m"),
            ("+2", "2"),
            ("12.5G", "12500M"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn non_quantities_are_refused() {
        for input in [
            "", "abc", "1x", "Mi", ".", "1.2.3", "1e", "1e+", "--1", "1 Mi",
        ] {
            assert_eq!(canonical(input), None, "{input:?}");
        }
    }

    #[test]
    fn numbers_become_strings() {
        assert_eq!(canonical_value(&json!(1)).as_deref(), Some("1"));
        assert_eq!(canonical_value(&json!(0.25)).as_deref(), Some("250m"));
        assert_eq!(canonical_value(&json!(true)), None);
    }

    #[test]
    fn only_quantity_fields_of_builtin_objects_change() {
        let mut deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"replicas": 1000, "template": {"spec": {
                "containers": [{"name": "c", "env": [{"name": "N", "value": "1000"}],
                    "resources": {"limits": {"cpu": 0.5, "memory": "1024Mi"},
                                  "requests": {"cpu": "1000m"}}}],
                "overhead": {"cpu": "0.25"},
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1024Ki"}}]}}}
        });
        canonicalize_object(&mut deployment);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "1"}})
        );
        assert_eq!(pod["containers"][0]["env"][0]["value"], "1000");
        assert_eq!(pod["overhead"]["cpu"], "250m");
        assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "1Mi");
        assert_eq!(deployment["spec"]["replicas"], 1000);

        let custom = json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "spec": {"resources": {"limits": {"cpu": "0.5"}}}});
        let mut unchanged = custom.clone();
        canonicalize_object(&mut unchanged);
        assert_eq!(unchanged, custom);

        let mut quota = json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "spec": {"hard": {"pods": "10", "requests.memory": "2048Mi"}}});
        canonicalize_object(&mut quota);
        assert_eq!(
            quota["spec"]["hard"],
            json!({"pods": "10", "requests.memory": "2Gi"})
        );
    }
}
