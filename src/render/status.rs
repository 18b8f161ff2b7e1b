//! Computing a resource's status fields: the chart's status template over its values and live children.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::documents::{self, DocumentError};
use super::engine::TemplateError;
use super::{Renderer, join, owner_of};
use crate::chart::{RESERVED_STATUS_FIELDS, STATUS_SCHEMA_FILE, STATUS_TEMPLATE, SchemaViolation};

/// Why the status fields could not be computed. The children are applied regardless: only the
/// computed fields are left as they were.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum StatusError {
    /// The resource lacks what every object has (name, kind, apiVersion).
    #[error("{0}")]
    ResourceInvalid(String),
    /// The status template failed while rendering (file:line:column).
    #[error("{0}")]
    TemplateFailed(TemplateError),
    /// The status template rendered something other than one YAML mapping of new fields.
    #[error("{0}")]
    OutputInvalid(DocumentError),
    /// The computed fields break status.schema.json.
    #[error("{}: {}", schema.display(), join(violations))]
    SchemaViolated {
        /// status.schema.json.
        schema: PathBuf,
        /// Every violation, pointers relative to the resource (`/status/...`).
        violations: Vec<SchemaViolation>,
    },
}

/// The live children as the status template sees them: `children.<Kind>.<name>` is the whole
/// object (metadata, spec, status), in a stable order.
/// The objects are moved into it, not copied.
pub(crate) fn children_context(mut children: Vec<Value>) -> Value {
    fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    // Stable: of two objects of one kind and name, the later one is kept.
    children.sort_by(|a, b| {
        (text(a, "/kind"), text(a, "/metadata/name"))
            .cmp(&(text(b, "/kind"), text(b, "/metadata/name")))
    });
    let mut by_kind = Map::new();
    for object in children {
        let kind = text(&object, "/kind").to_string();
        let name = text(&object, "/metadata/name").to_string();
        if let Value::Object(names) = by_kind
            .entry(kind)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            names.insert(name, object);
        }
    }
    Value::Object(by_kind)
}

impl Renderer {
    /// Whether the chart computes status fields (it has [`STATUS_TEMPLATE`]).
    pub(crate) fn computes_status(&self) -> bool {
        self.chart.status_template().is_some()
    }

    /// The status fields of `resource` (as JSON), computed by the chart's status template from
    /// the merged `values` and the live `children`, and checked against status.schema.json.
    /// `None` when the chart computes no status.
    pub(crate) fn render_status(
        &self,
        resource: &Value,
        default_namespace: &str,
        values: &Value,
        children: Vec<Value>,
    ) -> Result<Option<Map<String, Value>>, StatusError> {
        if !self.computes_status() {
            return Ok(None);
        }
        let owner = owner_of(resource, default_namespace, &self.chart.meta.name)
            .map_err(|e| StatusError::ResourceInvalid(e.to_string()))?;
        let mut context = self.context(resource, &owner, tera::Value::from_serializable(values));
        context.insert("children", &children_context(children));
        let file = |name: &str| self.chart.file(name).display().to_string();
        let rendered = self
            .engine
            .render_one(STATUS_TEMPLATE, &context)
            .map_err(|mut e| {
                e.file = file(&e.file);
                StatusError::TemplateFailed(e)
            })?;
        let invalid = |message: String| {
            StatusError::OutputInvalid(DocumentError {
                file: file(STATUS_TEMPLATE),
                line: None,
                message,
            })
        };
        // The chart's cache: resources in one state render one status text, parsed once.
        let mut parsed =
            documents::parse_documents(&rendered, &self.skeletons).map_err(|mut e| {
                e.file = file(&e.file);
                StatusError::OutputInvalid(e)
            })?;
        if parsed.len() > 1 {
            return Err(invalid(format!(
                "rendered {} YAML documents; a status template renders one mapping of status fields",
                parsed.len()
            )));
        }
        let fields = match parsed.pop().map(|p| p.object) {
            Some(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        if let Some(reserved) = RESERVED_STATUS_FIELDS
            .iter()
            .find(|f| fields.contains_key(**f))
        {
            return Err(invalid(format!(
                "computes `{reserved}`, which tera-operator writes itself; choose another name"
            )));
        }
        if let Some(schema) = &self.chart.status_schema
            && !self.valid_status.contains(&fields)
        {
            let violations = schema.violations(&Value::Object(fields.clone()));
            if !violations.is_empty() {
                return Err(StatusError::SchemaViolated {
                    schema: self.chart.file(STATUS_SCHEMA_FILE),
                    violations: violations
                        .into_iter()
                        .map(|mut v| {
                            v.pointer = format!("/status{}", v.pointer);
                            v
                        })
                        .collect(),
                });
            }
            self.valid_status.remember(&fields);
        }
        Ok(Some(fields))
    }
}

/// Status field sets that passed status.schema.json, newest last: resources in one state
/// compute the same few sets, and comparing one is cheaper than validating it again.
#[derive(Debug, Default)]
pub(crate) struct ValidStatus {
    sets: std::sync::Mutex<Vec<Map<String, Value>>>,
}

/// Status field sets [`ValidStatus`] remembers (the oldest goes first).
const VALID_STATUS_SETS: usize = 16;

impl ValidStatus {
    /// Whether `fields` are a set that passed validation before.
    fn contains(&self, fields: &Map<String, Value>) -> bool {
        self.sets
            .lock()
            .is_ok_and(|sets| sets.iter().rev().any(|set| set == fields))
    }

    /// Remembers that `fields` passed validation.
    fn remember(&self, fields: &Map<String, Value>) {
        if let Ok(mut sets) = self.sets.lock() {
            if sets.len() >= VALID_STATUS_SETS {
                sets.remove(0);
            }
            sets.push(fields.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::chart::Chart;
    use crate::config::AllowedKind;

    fn renderer(dir: &Path) -> Renderer {
        let chart = Chart::load(dir).unwrap();
        Renderer::with_settings(
            chart,
            AllowedKind::builtin("Service").into_iter().collect(),
            json!({}),
        )
        .unwrap()
    }

    fn balancer(backends: &[&str]) -> Value {
        let backends: Vec<Value> = backends
            .iter()
            .map(|b| json!({"name": b, "weight": 1, "selector": {"v": b}}))
            .collect();
        json!({
            "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "Balancer",
            "metadata": {"name": "echo", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"app": "echo"},
                "backends": backends}
        })
    }

    fn service(name: &str, component: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "ns",
                "labels": {"app.kubernetes.io/component": component}}})
    }

    fn status_of(
        renderer: &Renderer,
        resource: &Value,
        children: &[Value],
    ) -> Result<Option<Map<String, Value>>, StatusError> {
        let values = renderer.values_for(&resource["spec"]).unwrap();
        renderer.render_status(resource, "ns", &values, children.to_vec())
    }

    #[test]
    fn the_balancer_counts_active_and_obsolete_backend_services() {
        let r = renderer(Path::new("charts/balancer"));
        assert!(r.computes_status());
        let resource = balancer(&["v1", "v2"]);
        let live = [
            service("echo", "frontend"),
            service("echo-v1-backend", "backend"),
            service("echo-v3-backend", "backend"),
        ];
        let fields = status_of(&r, &resource, &live).unwrap().unwrap();
        // v1 exists and is wanted; v2 is wanted but does not exist; v3 exists, unwanted.
        assert_eq!(
            Value::Object(fields),
            json!({"activeBackendsNum": 1, "obsoleteBackendsNum": 1})
        );
        let none = status_of(&r, &resource, &[]).unwrap().unwrap();
        assert_eq!(
            Value::Object(none),
            json!({"activeBackendsNum": 0, "obsoleteBackendsNum": 0})
        );
    }

    #[test]
    fn the_webserver_shows_ready_of_desired_replicas_like_kubectl() {
        let r = renderer(Path::new("charts/webserver"));
        let resource = json!({
            "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
            "metadata": {"name": "hello", "namespace": "ns", "uid": "u1"},
            "spec": {"replicas": 3}
        });
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": "ns"}, "spec": {"replicas": 3},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let fields = status_of(&r, &resource, &[deployment]).unwrap().unwrap();
        assert_eq!(fields["pods"], "2/3");
        assert_eq!(fields["readyReplicas"], 2);
        assert_eq!(fields["replicas"], 3);
        // No Deployment (yet): nothing ready of the spec's replicas.
        let fields = status_of(&r, &resource, &[]).unwrap().unwrap();
        assert_eq!(fields["pods"], "0/3");
        // A Deployment without status yet.
        let fresh = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hello"}, "spec": {"replicas": 3}});
        let fields = status_of(&r, &resource, &[fresh]).unwrap().unwrap();
        assert_eq!(fields["pods"], "0/3");
    }

    fn chart_with_status(template: &str, schema: Value) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new("charts/webserver");
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        for file in ["Chart.yaml", "values.yaml", "values.schema.json"] {
            std::fs::copy(from.join(file), dir.path().join(file)).unwrap();
        }
        for entry in std::fs::read_dir(from.join("templates")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            std::fs::copy(&path, dir.path().join("templates").join(name)).unwrap();
        }
        std::fs::write(dir.path().join("templates/_status.tera"), template).unwrap();
        std::fs::write(dir.path().join("status.schema.json"), schema.to_string()).unwrap();
        dir
    }

    fn webserver() -> Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
            "metadata": {"name": "hello", "namespace": "ns"}, "spec": {}})
    }

    #[test]
    fn template_errors_name_the_file_and_line() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let dir = chart_with_status("a: 1\n{{ values.nothing.here }}\n", schema);
        let err = status_of(&renderer(dir.path()), &webserver(), &[]).unwrap_err();
        assert!(matches!(err, StatusError::TemplateFailed(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("templates/_status.tera:2:"), "{text}");
    }

    #[test]
    fn output_must_be_one_mapping_of_fields_the_schema_allows() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        for (template, expected) in [
            ("a: 1\n---\na: 2\n", "rendered 2 YAML documents"),
            ("- a\n", "not a Kubernetes object"),
            ("conditions: []\n", "computes `conditions`"),
            ("a: [unclosed\n", "_status.tera"),
            (
                "a: \"{{ release.name }}\"\n",
                "status.schema.json: /status/a: ",
            ),
        ] {
            let dir = chart_with_status(template, schema.clone());
            let err = status_of(&renderer(dir.path()), &webserver(), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{template:?}: {err}");
        }
        // An empty output computes no fields.
        let dir = chart_with_status("{# nothing #}\n", schema);
        let fields = status_of(&renderer(dir.path()), &webserver(), &[])
            .unwrap()
            .unwrap();
        assert!(fields.is_empty());
    }

    #[test]
    fn interpolated_strings_stay_data() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
        let dir = chart_with_status(
            "name: {{ children.Service.s.metadata.annotations.x }}\n",
            schema,
        );
        let evil = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
            "annotations": {"x": "a\nconditions: []"}}});
        let fields = status_of(&renderer(dir.path()), &webserver(), &[evil])
            .unwrap()
            .unwrap();
        assert_eq!(fields["name"], "a\nconditions: []");
        assert_eq!(fields.len(), 1);
    }

    #[test]
    fn children_are_keyed_by_kind_then_name() {
        let context = children_context(vec![service("b", "x"), service("a", "y")]);
        assert_eq!(
            context["Service"]["a"]["metadata"]["labels"]["app.kubernetes.io/component"],
            "y"
        );
        assert_eq!(context["Service"].as_object().map(|m| m.len()), Some(2));
    }
}
