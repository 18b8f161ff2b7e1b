//! Whether a newly loaded chart may serve: its defaults and `ci/*-values.yaml` render and pass policy.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::config::Watch;
use crate::render::{self, Renderer};

/// Why a chart that compiles is still refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A `ci/*-values.yaml` file could not be read.
    #[error("{0}")]
    ValueSetUnreadable(#[from] crate::chart::Error),
    /// A value set (the defaults in values.yaml, or a ci file over them) did not validate,
    /// render, or pass policy.
    #[error("{}: these values do not render: {source}", file.display())]
    ValueSetFailed {
        /// values.yaml or the ci file.
        file: PathBuf,
        /// What went wrong, naming the template or schema file.
        source: render::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders the chart's defaults and each `ci/*-values.yaml` over them (as `tera-operator
/// lint` does) through `renderer`, with `watch`'s overrides and allowed kinds; the first
/// value set that fails schema, template or policy refuses the chart. Defaults that only lack
/// fields the schema requires of every custom resource are not rendered on their own.
pub(crate) fn check(renderer: &Renderer, watch: &Watch) -> Result<()> {
    let dir = &renderer.chart.dir;
    let mut sets = vec![(dir.join("values.yaml"), json!({}))];
    sets.extend(crate::chart::ci_value_sets(dir)?);
    for (file, spec) in sets {
        let is_defaults = spec == json!({});
        let resource = stand_in(watch, spec);
        match renderer.render(&resource, "default") {
            Ok(_) => {}
            Err(render::Error::InvalidSpec { violations, .. })
                if is_defaults && violations.iter().all(|v| v.missing_required) => {}
            Err(source) => return Err(Error::ValueSetFailed { file, source }),
        }
    }
    Ok(())
}

/// A custom resource of `watch`'s kind with `spec`, as the check renders it.
fn stand_in(watch: &Watch, spec: Value) -> Value {
    json!({
        "apiVersion": watch.api_version(),
        "kind": watch.kind,
        "metadata": {"name": "chart-check", "namespace": "default",
            "uid": "00000000-0000-0000-0000-000000000000", "generation": 1},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::chart::Chart;
    use crate::config::Mapping;

    /// A copy of the bundled WebServer chart and its mapping entry, pointed at the copy.
    fn webserver() -> (tempfile::TempDir, Watch) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mapping = Mapping::load(&root.join("charts/watches.yaml")).expect("mapping");
        let mut watch = mapping
            .watches
            .into_iter()
            .find(|w| w.kind == "WebServer")
            .expect("WebServer entry");
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = dir.path().join("webserver");
        copy(&root.join("charts/webserver"), &chart);
        watch.chart_dir = chart;
        (dir, watch)
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }

    fn checked(watch: &Watch) -> Result<()> {
        let chart = Chart::load(&watch.chart_dir).expect("chart loads");
        let renderer = Renderer::new(chart, watch).expect("chart compiles");
        check(&renderer, watch)
    }

    #[test]
    fn the_bundled_charts_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for watch in Mapping::load(&root.join("charts/watches.yaml"))
            .expect("mapping")
            .watches
        {
            checked(&watch).unwrap_or_else(|e| panic!("{}: {e}", watch.kind));
        }
    }

    #[test]
    fn defaults_that_fail_to_render_are_refused_naming_the_template() {
        let (_dir, watch) = webserver();
        let template = watch.chart_dir.join("templates/service.yaml");
        let text = std::fs::read_to_string(&template).expect("template");
        std::fs::write(&template, format!("{text}\n{{{{ values.nope.deeper }}}}\n"))
            .expect("write");
        let error = checked(&watch).expect_err("refused").to_string();
        assert!(
            error.contains("values.yaml: these values do not render"),
            "{error}"
        );
        assert!(error.contains("service.yaml"), "{error}");
    }

    #[test]
    fn a_ci_value_set_breaking_policy_is_refused_naming_the_file() {
        let (_dir, watch) = webserver();
        let template = watch.chart_dir.join("templates/service.yaml");
        let text = std::fs::read_to_string(&template).expect("template");
        // Only a value set with 7 replicas renders a kind the mapping does not allow.
        let extra = "{% if values.replicas == 7 %}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n{% endif %}\n";
        std::fs::write(&template, format!("{text}\n{extra}")).expect("write");
        checked(&watch).expect("the defaults still pass");
        std::fs::create_dir(watch.chart_dir.join("ci")).expect("mkdir");
        std::fs::write(
            watch.chart_dir.join("ci/seven-values.yaml"),
            "replicas: 7\n",
        )
        .expect("ci");
        let error = checked(&watch).expect_err("refused").to_string();
        assert!(
            error.contains("ci/seven-values.yaml: these values do not render"),
            "{error}"
        );
        assert!(error.contains("Secret"), "{error}");
    }
}
