//! Go-style durations as operator-sdk writes them: `90s`, `10m`, `1h30m`, `500ms`.

use std::time::Duration;

/// Parses a Go-style duration (`h`, `m`, `s`, `ms` units, concatenated); must be positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("{text:?} is missing a unit (h, m, s or ms)"))?;
        if digits == 0 {
            return Err(format!("{text:?} is not a duration like 30s, 10m or 1h30m"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} has an invalid number"))?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let seconds = match &after[..unit_len] {
            "h" => number * 3600.0,
            "m" => number * 60.0,
            "s" => number,
            "ms" => number / 1000.0,
            other => return Err(format!("{text:?} has an unknown unit {other:?}")),
        };
        total += Duration::from_secs_f64(seconds);
        rest = &after[unit_len..];
    }
    if total.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(total)
}
