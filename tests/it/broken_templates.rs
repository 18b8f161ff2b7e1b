//! Broken charts, fuzzed: whatever an edit does to a bundled chart's templates, loading and
//! rendering returns the objects or an error naming the template file — never a panic.

use crate::support::examples;

use examples::example_and_watch;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tera_operator::chart::Chart;
use tera_operator::render::Renderer;

/// Fragments that mean something to Tera or YAML, and expressions that fail at render time.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "|",
        ".",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "'",
        "\n",
        ":",
        "- ",
        "  ",
        "{% if values.x %}",
        "{% endif %}",
        "{% for x in values %}",
        "{% endfor %}",
        "{% set y = 1 %}",
        "{% include \"templates/nope.yaml\" %}",
        "{% raw %}",
        "{% endraw %}",
        "{{ 1/0 }}",
        "{{ [] | first }}",
        "{{ values.nope.deeper }}",
        "{{ values | to_yaml }}",
        "{{ 9223372036854775807 + 1 }}",
        "{{ range(end=99999999999) | length }}",
        "{{ \"x\" | trunc(length=-1) }}",
        "{{ release.name | dns_label }}",
        "\u{e000}",
        "\u{e001}",
        "kind: Secret\n",
        "---\n",
        "apiVersion: v1\n",
        "metadata:\n",
        "&a ",
        "*a",
        "!!binary ",
    ])
}

/// One edit: in template `t`, at char position `at`, insert, delete up to 8 chars, or replace.
type Edit = (usize, prop::sample::Index, usize, &'static str, u8);

fn apply(chart: &mut Chart, (t, at, len, fragment, op): Edit) {
    let count = chart.templates.len();
    let template = &mut chart.templates[t % count];
    let chars: Vec<char> = template.source.chars().collect();
    let start = at.index(chars.len() + 1);
    let end = (start + len).min(chars.len());
    let mut edited: String = chars[..start].iter().collect();
    match op {
        0 => edited.extend(&chars[start..end]), // keep: a pure insertion
        1 => {}                                 // a deletion
        _ => edited.push_str(fragment),         // a replacement
    }
    if op == 0 {
        edited.push_str(fragment);
    }
    edited.extend(&chars[end..]);
    template.source = edited;
}

fn fuzz(example: &str, cases: u32) {
    let (resource, watch) = example_and_watch(example);
    let pristine = Chart::load(&watch.chart_dir).unwrap();
    let edits = prop::collection::vec(
        (
            0usize..8,
            any::<prop::sample::Index>(),
            0usize..8,
            fragment(),
            0u8..3,
        ),
        1..4,
    );
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&edits, |edits| {
            let mut chart = pristine.clone();
            for edit in edits {
                apply(&mut chart, edit);
            }
            let sources: Vec<_> = chart.templates.iter().map(|t| t.source.clone()).collect();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Renderer::new(chart, &watch).and_then(|r| r.render(&resource, "default"))
            }));
            let Ok(outcome) = outcome else {
                return Err(TestCaseError::fail(format!("panicked on {sources:#?}")));
            };
            if let Err(e) = outcome {
                let message = e.to_string();
                prop_assert!(
                    message.contains("templates/"),
                    "error names no template: {message}\n{sources:#?}"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn edited_webserver_templates_fail_cleanly() {
    fuzz("examples/webserver.yaml", 512);
}

#[test]
fn edited_balancer_templates_fail_cleanly() {
    fuzz("examples/balancer.yaml", 512);
}
