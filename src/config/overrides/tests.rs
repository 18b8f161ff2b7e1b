//! Table tests for overrideValues: Go's `os.ExpandEnv`, Helm's `strvals.ParseIntoString`, and
//! the checks around them. Expected values follow Go's and Helm's own tests
//! (`os/env_test.go`, `pkg/strvals/parser_test.go`).

use serde_json::json;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "REPO" => Some("quay.io/acme/app".to_string()),
        "TAG" => Some("1.2".to_string()),
        "1" => Some("one".to_string()),
        "*" => Some("all".to_string()),
        "HOME" => Some("/root".to_string()),
        _ => None,
    }
}

#[test]
fn expands_like_go_os_expand_env() {
    for (text, expected) in [
        ("", ""),
        ("$*", "all"),
        ("$$", ""),
        ("$1", "one"),
        ("${1}", "one"),
        ("now is the time", "now is the time"),
        ("$REPO", "quay.io/acme/app"),
        ("${REPO}:$TAG", "quay.io/acme/app:1.2"),
        ("$REPO/$UNSET/x", "quay.io/acme/app//x"),
        ("${UNSET}", ""),
        ("${HOME}.bak", "/root.bak"),
        ("$HOME.bak", "/root.bak"),
        ("a$", "a$"),
        ("a$ b", "a$ b"),
        ("${}", ""),
        ("x${", "x"),
        ("${REPO", "REPO"),
        ("100%$%", "100%$%"),
        ("$@", ""),
    ] {
        assert_eq!(expand_env(text, &env), expected, "{text:?}");
    }
}

fn set(line: &str) -> Result<Value, String> {
    let mut data = Map::new();
    parse_set(line, &mut data).map(|()| Value::Object(data))
}

#[test]
fn parses_set_paths_like_helm_parse_string() {
    for (line, expected) in [
        ("name=value", json!({"name": "value"})),
        (
            "long_int_string=1234567890",
            json!({"long_int_string": "1234567890"}),
        ),
        ("boolean=true", json!({"boolean": "true"})),
        ("is_null=null", json!({"is_null": "null"})),
        ("zero=0", json!({"zero": "0"})),
        (
            "image.repository=nginx",
            json!({"image": {"repository": "nginx"}}),
        ),
        ("a.b.c=d", json!({"a": {"b": {"c": "d"}}})),
        (
            "name1=value1,name2=value2",
            json!({"name1": "value1", "name2": "value2"}),
        ),
        (
            "name1=value1\\,name2=value2",
            json!({"name1": "value1,name2=value2"}),
        ),
        ("a\\.b=c", json!({"a.b": "c"})),
        (
            "nodeSelector.kubernetes\\.io/role=master",
            json!({"nodeSelector": {"kubernetes.io/role": "master"}}),
        ),
        ("list[0]=foo", json!({"list": ["foo"]})),
        ("list[1]=foo", json!({"list": [null, "foo"]})),
        ("list[0].foo=bar", json!({"list": [{"foo": "bar"}]})),
        ("list[0][0]=x", json!({"list": [["x"]]})),
        ("name={a,b,c}", json!({"name": ["a", "b", "c"]})),
        ("name1.name2={a,b}", json!({"name1": {"name2": ["a", "b"]}})),
        ("empty=", json!({"empty": ""})),
        ("url=http://x.io/a?b=c", json!({"url": "http://x.io/a?b=c"})),
        ("name=value=more", json!({"name": "value=more"})),
        (
            "list[0].foo=bar,list[0].hello=world",
            json!({"list": [{"foo": "bar", "hello": "world"}]}),
        ),
        (
            "name1=,name2=value2",
            json!({"name1": "", "name2": "value2"}),
        ),
        ("name1=one\\=two", json!({"name1": "one=two"})),
        ("leading_zeros=00009", json!({"leading_zeros": "00009"})),
    ] {
        assert_eq!(set(line), Ok(expected), "{line:?}");
    }
}

#[test]
fn refuses_what_helm_refuses() {
    for (line, expected) in [
        ("name", "key \"name\" has no value"),
        ("name1=value1,name2", "key \"name2\" has no value"),
        ("a,b=c", "key \"a\" has no value (cannot end with ,)"),
        ("list[x]=y", "error parsing index"),
        ("list[-1]=y", "negative -1 index not allowed"),
        (
            "list[65537]=y",
            "greater than maximum supported index of 65536",
        ),
        ("list[0]x=y", "unexpected data at end of array index: \"x\""),
        ("name={a,b", "list must terminate with '}'"),
        ("a.=b", "key map \"a\" has no value"),
        ("name1.name2", "key \"name2\" has no value"),
        ("name1,name2=value2", "has no value (cannot end with ,)"),
        (
            "list[0].foo=bar,list[-30].hello=world",
            "negative -30 index not allowed",
        ),
    ] {
        let error = set(line).unwrap_err();
        assert!(error.contains(expected), "{line:?}: {error}");
    }
    let deep = format!("{}=x", vec!["a"; 32].join("."));
    assert!(set(&deep).unwrap_err().contains("nested level"));
}

fn build_from(yaml: &str) -> Result<(Value, Vec<OverrideSource>), (usize, String)> {
    let map: serde_yaml::Mapping = serde_yaml::from_str(yaml).unwrap();
    let written: Vec<Written<'_>> = map
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Written {
            key: k.as_str().unwrap(),
            value: v,
            line: 10 + i,
        })
        .collect();
    build(&written, &env)
}

#[test]
fn builds_the_documented_overrides() {
    let (values, sources) = build_from(
        "image.repository: $REPO\nimage.tag: ${TAG}\nmissing: $NOT_SET\nextraArgs[0]: --verbose\nextraArgs[1]: --color\n",
    )
    .unwrap();
    assert_eq!(
        values,
        json!({"image": {"repository": "quay.io/acme/app", "tag": "1.2"}, "missing": "",
               "extraArgs": ["--verbose", "--color"]})
    );
    let described: Vec<(&str, &str, usize)> = sources
        .iter()
        .map(|s| (s.pointer.as_str(), s.key.as_str(), s.line))
        .collect();
    assert_eq!(
        described,
        [
            ("/image/repository", "image.repository", 10),
            ("/image/tag", "image.tag", 11),
            ("/missing", "missing", 12),
            ("/extraArgs/0", "extraArgs[0]", 13),
            ("/extraArgs/1", "extraArgs[1]", 14),
        ]
    );
    // Typed values (which operator-sdk cannot load) are set at their path as they are.
    let (values, _) =
        build_from("replicaCount: 3\nservice.enabled: false\nresources.limits: {cpu: 1}\n")
            .unwrap();
    assert_eq!(
        values,
        json!({"replicaCount": 3, "service": {"enabled": false}, "resources": {"limits": {"cpu": 1}}})
    );
    // A YAML null is a Go empty string, as when operator-sdk reads it into map[string]string.
    let (values, _) = build_from("a.b: \n").unwrap();
    assert_eq!(values, json!({"a": {"b": ""}}));
}

#[test]
fn errors_name_the_key_and_its_line() {
    let (line, message) = build_from("image.repository: x\nimage: y\n").unwrap_err();
    assert_eq!(line, 11);
    assert_eq!(
        message,
        "overrideValues: \"image\": sets /image, which is already set by key \"image.repository\" (line 10)"
    );
    let (line, message) =
        build_from("a: x\nb: '{{ (\"$REPO\" | split \":\")._0 }}'\n").unwrap_err();
    assert_eq!(line, 11);
    assert!(message.starts_with("overrideValues: \"b\": \"{{ (\\\"quay.io/acme/app\\\" | split \\\":\\\")._0 }}\" is a Go template"), "{message}");
    let (line, message) = build_from("tags: $REPO,latest\n").unwrap_err();
    assert_eq!(line, 10);
    assert!(message.contains("key \"latest\" has no value"), "{message}");
    assert!(message.contains("write `\\,` for a comma"), "{message}");
    let (_, message) = build_from("list: '{a,b}'\nlist[0]: c\n").unwrap_err();
    assert!(
        message.contains("sets /list/0, which is already set by key \"list\""),
        "{message}"
    );
    let (_, message) = build_from("a,b: 3\n").unwrap_err();
    assert!(message.contains("cannot end with ,"), "{message}");
}
