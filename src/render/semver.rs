//! Semantic version constraints as Helm's `semverCompare` reads them (Masterminds/semver v3).
//!
//! A constraint is `||`-separated alternatives of comma- or space-separated comparisons:
//! `=`, `!=`, `>`, `<`, `>=`, `<=` (also `=<`/`=>`), `~` (patch-level changes), `^` (changes that
//! do not modify the left-most non-zero part), wildcards (`1.2.x`, `1.*`) and hyphen ranges
//! (`1.2 - 1.4.5`). A pre-release version satisfies a comparison only when that comparison names
//! a pre-release itself, which is why charts write `>=1.19-0` to accept `v1.30.0-gke.1`.

use std::cmp::Ordering;

/// A parsed version: major, minor, patch and the pre-release identifiers (build metadata dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    parts: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    /// Parses `v1`, `1.2`, `1.2.3-rc.1+build`; missing parts are 0.
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let body = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let body = body.split('+').next().unwrap_or_default();
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, pre.split('.').map(str::to_string).collect()),
            None => (body, Vec::new()),
        };
        let mut parts = [0u64; 3];
        let pieces: Vec<&str> = core.split('.').collect();
        if pieces.is_empty() || pieces.len() > 3 || pieces.iter().any(|p| p.is_empty()) {
            return Err(format!("`{text}` is not a semantic version"));
        }
        for (slot, piece) in parts.iter_mut().zip(&pieces) {
            *slot = piece
                .parse()
                .map_err(|_| format!("`{text}` is not a semantic version"))?;
        }
        Ok(Self { parts, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// One comparison: an operator, a bound, and how many parts the bound spelled out (`1.2` → 2;
/// a wildcard part ends the count).
struct Comparison {
    op: String,
    bound: Version,
    given: usize,
}

impl Comparison {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
            .ok_or_else(|| format!("`{text}` has no version"))?;
        let (op, version) = text.split_at(split);
        let op = match op.trim() {
            "=<" => "<=",
            "=>" => ">=",
            "==" => "=",
            other => other,
        }
        .to_string();
        if !matches!(
            op.as_str(),
            "" | "=" | "!=" | ">" | "<" | ">=" | "<=" | "~" | "~>" | "^"
        ) {
            return Err(format!("`{op}` is not a version comparison operator"));
        }
        let version = version.trim();
        let core_end = version.find(['-', '+']).unwrap_or(version.len());
        let pieces: Vec<&str> = version[..core_end]
            .trim_start_matches(['v', 'V'])
            .split('.')
            .collect();
        let given = pieces
            .iter()
            .take_while(|p| !matches!(**p, "x" | "X" | "*"))
            .count();
        let concrete: Vec<&str> = pieces[..given].to_vec();
        let rest = &version[core_end..];
        let bound = if concrete.is_empty() {
            Version {
                parts: [0; 3],
                pre: Vec::new(),
            }
        } else {
            Version::parse(&format!("{}{rest}", concrete.join(".")))?
        };
        Ok(Self { op, bound, given })
    }

    /// The upper bound (exclusive) of a bound that leaves its later parts open.
    fn next_after(&self, level: usize) -> Version {
        let mut parts = self.bound.parts;
        parts[level] += 1;
        for p in parts.iter_mut().skip(level + 1) {
            *p = 0;
        }
        Version {
            parts,
            pre: Vec::new(),
        }
    }

    fn matches(&self, v: &Version) -> bool {
        // A pre-release is only considered by a comparison that names one on the same core.
        if !v.pre.is_empty() && self.bound.pre.is_empty() {
            return false;
        }
        let b = &self.bound;
        let wildcard = self.given < 3;
        match self.op.as_str() {
            "" | "=" if wildcard => {
                self.given == 0 || (v >= b && *v < self.next_after(self.given - 1))
            }
            "" | "=" => v == b,
            "!=" if wildcard => {
                self.given != 0 && !(v >= b && *v < self.next_after(self.given - 1))
            }
            "!=" => v != b,
            ">" if wildcard => self.given != 0 && *v >= self.next_after(self.given - 1),
            ">" => v > b,
            ">=" => v >= b,
            "<" => v < b,
            "<=" if wildcard => self.given == 0 || *v < self.next_after(self.given - 1),
            "<=" => v <= b,
            "~" | "~>" => {
                let level = if self.given >= 2 { 1 } else { 0 };
                v >= b && *v < self.next_after(level)
            }
            "^" => {
                let level = if b.parts[0] > 0 || self.given <= 1 {
                    0
                } else if b.parts[1] > 0 || self.given == 2 {
                    1
                } else {
                    2
                };
                v >= b && *v < self.next_after(level)
            }
            _ => false,
        }
    }
}

/// Whether `version` satisfies `constraint` (Helm's `semverCompare constraint version`).
pub(crate) fn satisfies(constraint: &str, version: &str) -> Result<bool, String> {
    let version = Version::parse(version)?;
    let mut any = false;
    for alternative in constraint.split("||") {
        let mut all = true;
        for comparison in comparisons(alternative)? {
            all &= comparison.matches(&version);
        }
        any |= all;
    }
    Ok(any)
}

/// The comparisons of one alternative: comma-separated, or space-separated where an operator
/// starts the next one; `A - B` is `>= A, <= B`.
fn comparisons(alternative: &str) -> Result<Vec<Comparison>, String> {
    let alternative = alternative.trim();
    if let Some((low, high)) = alternative.split_once(" - ") {
        return Ok(vec![
            Comparison::parse(&format!(">={}", low.trim()))?,
            Comparison::parse(&format!("<={}", high.trim()))?,
        ]);
    }
    let mut out = Vec::new();
    for part in alternative.split(',') {
        // `>= 1.2 < 2` holds two comparisons; an operator may be followed by a space.
        let mut current = String::new();
        for token in part.split_whitespace() {
            let starts_new = token.starts_with(|c: char| "=<>!~^".contains(c));
            if starts_new && !current.is_empty() && !is_operator_only_str(&current) {
                out.push(Comparison::parse(&current)?);
                current.clear();
            }
            current.push_str(token);
        }
        if !current.is_empty() {
            out.push(Comparison::parse(&current)?);
        }
    }
    if out.is_empty() {
        return Err(format!("`{alternative}` is an empty version constraint"));
    }
    Ok(out)
}

fn is_operator_only_str(s: &str) -> bool {
    s.chars().all(|c| "=<>!~^".contains(c))
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    /// Cases from Masterminds/semver's documentation and Helm charts' usual guards.
    #[test]
    fn constraints_follow_masterminds_semver() {
        let cases = [
            (">=1.19-0", "v1.30.0", true),
            (">=1.19-0", "v1.30.0-gke.1", true),
            (">=1.19", "v1.30.0-gke.1", false),
            (">=1.19-0", "1.18.9", false),
            ("<1.19-0", "1.18.9", true),
            (">=1.4-0, <1.19-0", "1.16.2", true),
            (">= 1.2 < 3.0.0 || >= 4.2.3", "4.3.0", true),
            (">= 1.2 < 3.0.0 || >= 4.2.3", "3.1.0", false),
            (">= 1.2, < 3.0.0", "2.9.9", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("*", "5.0.0", true),
            ("!=1.2.3", "1.2.3", false),
            ("=1.2.3", "v1.2.3", true),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("<=1.2", "1.2.9", true),
        ];
        for (constraint, version, expected) in cases {
            assert_eq!(
                satisfies(constraint, version),
                Ok(expected),
                "{constraint} on {version}"
            );
        }
    }

    #[test]
    fn bad_versions_and_operators_are_errors() {
        assert!(
            satisfies(">=1.19", "latest")
                .unwrap_err()
                .contains("latest")
        );
        assert!(satisfies("%1.2", "1.2.0").is_err());
        assert!(satisfies(">=1.2", "1..2").is_err());
    }
}
