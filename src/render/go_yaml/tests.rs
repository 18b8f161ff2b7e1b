//! Helm's `toYaml` text, as Helm v4 (helm-python-sdk 0.2.2) printed it for these values.

use serde_json::json;

use super::to_text;

#[test]
fn scalars_are_written_as_go_yaml_writes_them() {
    let mut value = serde_json::Map::new();
    for (k, v) in [
        ("at", json!("@x")),
        ("b60", json!("1:20")),
        ("bigint", json!(123456789012_i64)),
        ("brace", json!("a{b}")),
        ("colon", json!("a: b")),
        ("colonend", json!("a:")),
        ("dash", json!("- x")),
        ("date", json!("2001-12-14")),
        ("e", json!("1e3")),
        ("empty", json!("")),
        ("f", json!(1e20)),
        ("float", json!("1.5")),
        ("fz", json!(0.1)),
        ("hash", json!("a #b")),
        ("hex", json!("0x1F")),
        ("inf", json!(".inf")),
        ("keys", json!({"a10": 1, "a2": 2, "_x": 3, "Z": 4, "b": 5})),
        ("lead", json!("-x")),
        ("leadsp", json!(" x")),
        ("list", json!(["a", 1, true, null, 1.5, 2.0])),
        ("long", json!("word ".repeat(30))),
        ("ml", json!("line1\nline2\n")),
        ("ml2", json!("line1\nline2")),
        ("ml3", json!("a\n\n")),
        ("mlsp", json!("  indented\nline\n")),
        ("neg", json!(-3)),
        (
            "nested",
            json!({"k": [{"a": 1, "b": [1, 2]}], "e": {}, "l": []}),
        ),
        ("null", json!("null")),
        ("num", json!("123")),
        ("oct", json!("0o17")),
        ("on", json!("on")),
        ("pct", json!("%x")),
        ("plus", json!("+1")),
        ("star", json!("*x")),
        ("tab", json!("a\tb")),
        ("tilde", json!("~")),
        ("trail", json!("a ")),
        ("under", json!("1_000")),
        ("unicode", json!("héllo")),
        ("url", json!("http://x:80/y")),
        ("ver", json!("1.2.3")),
        ("yes", json!("yes")),
    ] {
        value.insert(k.to_string(), v);
    }
    let value = serde_json::Value::Object(value);
    let helm = r#"at: '@x'
b60: "1:20"
bigint: 123456789012
brace: "a{b}"
colon: 'a: b'
colonend: 'a:'
dash: '- x'
date: "2001-12-14"
e: "1e3"
empty: ""
f: 1e+20
float: "1.5"
fz: 0.1
hash: 'a #b'
hex: "0x1F"
inf: ".inf"
keys:
  _x: 3
  Z: 4
  a2: 2
  a10: 1
  b: 5
lead: -x
leadsp: ' x'
list:
- a
- 1
- true
- null
- 1.5
- 2
long: 'word word word word word word word word word word word word word word word
  word word word word word word word word word word word word word word word '
ml: |
  line1
  line2
ml2: |-
  line1
  line2
ml3: |+
  a

mlsp: |2
    indented
  line
neg: -3
nested:
  e: {}
  k:
  - a: 1
    b:
    - 1
    - 2
  l: []
"null": "null"
num: "123"
oct: "0o17"
"on": "on"
pct: '%x'
plus: "+1"
star: '*x'
tab: "a\tb"
tilde: "~"
trail: 'a '
under: "1_000"
unicode: héllo
url: http://x:80/y
ver: 1.2.3
"yes": "yes""#;
    // The one line that differs from Helm's on purpose: Helm writes `brace: a{b}`, plain. A
    // flow indicator is never written plain here, nor single-quoted (text a template puts
    // inside single quotes or a flow collection could then close them): double-quoted.
    assert_eq!(to_text(&value), helm);
}

#[test]
fn nesting_and_folding_follow_go_yaml() {
    let long = format!("{}end", "word ".repeat(20));
    for (value, helm) in [
        (
            json!(long),
            "word word word word word word word word word word word word word word word word word\n  word word word end",
        ),
        (json!("a\nb"), "|-\n  a\n  b"),
        (
            json!(["a\nb", long, {"k": long, "m": "x\ny\n"}]),
            "- |-\n  a\n  b\n- word word word word word word word word word word word word word word word word\n  word word word word end\n- k: word word word word word word word word word word word word word word word word\n    word word word word end\n  m: |\n    x\n    y",
        ),
        (
            json!({"a": {"b": {"c": long}}, "l": [[1, [2, 3]], {"x": [long]}]}),
            "a:\n  b:\n    c: word word word word word word word word word word word word word word word\n      word word word word word end\nl:\n- - 1\n  - - 2\n    - 3\n- x:\n  - word word word word word word word word word word word word word word word word\n    word word word word end",
        ),
        (json!(1234567.5), "1.2345675e+06"),
        (json!(0.000012), "1.2e-05"),
        (json!("x"), "x"),
        (json!(null), "null"),
        (json!([]), "[]"),
        (json!({}), "{}"),
        (json!(true), "true"),
        (json!("tab\there: x"), "\"tab\\there: x\""),
        (
            // Columns count characters, not bytes: no fold at column 50.
            json!(format!("{} {}", "é".repeat(50), "é".repeat(50))),
            &format!("{} {}", "é".repeat(50), "é".repeat(50)),
        ),
    ] {
        assert_eq!(to_text(&value), helm, "{value}");
    }
}

#[test]
fn quotes_and_backslashes_stay_in_the_safe_double_quoted_form() {
    // Go writes `it's: x` single-quoted and `a"b: c` single-quoted: a quote inside could close
    // a quoted scalar the template put the text in, so these use the escaped form.
    for (value, text) in [
        ("it's: x", "\"it\\u0027s: x\""),
        ("a\"b: c", "\"a\\\"b: c\""),
        ("it's", "\"it\\u0027s\""),
        // Go single-quotes it; a flow indicator takes the double-quoted form here too.
        ("a, b", "\"a, b\""),
        ("x\ny\"", "\"x\\ny\\\"\""),
    ] {
        assert_eq!(to_text(&json!(value)), text, "{value}");
        let back: serde_json::Value = serde_yaml::from_str(&to_text(&json!(value))).unwrap();
        assert_eq!(back, json!(value));
    }
}
