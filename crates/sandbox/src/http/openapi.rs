//! A minimal OpenAPI v3 surface: the index and per-group-version documents with the PATCH
//! operations and their query parameters, which kubectl probes for `fieldValidation` support.

use serde_json::{Map, Value, json};

use crate::api::resources::Registry;

/// `/openapi/v3`: one entry per served group/version.
pub(crate) fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, versions) in reg.groups() {
        for v in versions {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", reg.all().len())}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`; `None` if not served.
pub(crate) fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let rs: Vec<_> = reg
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if rs.is_empty() {
        return None;
    }
    let params: Vec<Value> = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]
        .iter()
        .map(|n| json!({"name": n, "in": "query", "schema": {"type": if *n == "force" { "boolean" } else { "string" }, "uniqueItems": true}}))
        .collect();
    let mut paths = Map::new();
    for r in rs {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        paths.insert(
            path,
            json!({
                "patch": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch", "parameters": params,
                          "responses": {"200": {"description": "OK"}}},
                "put": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "put", "parameters": params,
                        "responses": {"200": {"description": "OK"}}},
            }),
        );
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0-sandbox"}, "paths": paths, "components": {"schemas": {}}}),
    )
}
