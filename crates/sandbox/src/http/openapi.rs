//! OpenAPI documents: `/openapi/v2` and `/openapi/v3` (index and per group-version documents)
//! with the upstream schemas of the built-in types and each CRD version's schema, as
//! kube-apiserver serves them, so that `kubectl explain` works; the PATCH/PUT operations list
//! their query parameters, which kubectl reads to see that `fieldValidation` is supported.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api::resources::{Registry, ResourceInfo};
use crate::http::definitions;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn info() -> Value {
    json!({"title": "Kubernetes", "version": "v1.34.0-sandbox"})
}

/// The definition name of a CRD version, as the API server builds it (reversed group).
fn crd_name(r: &ResourceInfo) -> String {
    let reversed: Vec<&str> = r.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), r.version, r.kind)
}

/// A CRD version's schema as the API server publishes it: its openAPIV3Schema with
/// `metadata` as ObjectMeta, apiVersion and kind described, and its group/version/kind.
fn crd_schema(r: &ResourceInfo) -> Value {
    let mut s = r
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    if !s.is_object() {
        s = json!({"type": "object"});
    }
    let props = s
        .as_object_mut()
        .map(|m| m.entry("properties").or_insert_with(|| json!({})));
    if let Some(Value::Object(props)) = props {
        props.insert(
            "metadata".into(),
            json!({"$ref": format!("#/definitions/{OBJECT_META}"), "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
        );
        props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
        props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
    }
    s["x-kubernetes-group-version-kind"] =
        json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
    s
}

/// The definitions (v2 form) of the resources `rs` and everything they refer to.
fn schemas_for<'a>(rs: impl Iterator<Item = &'a ResourceInfo>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut names = BTreeSet::new();
    for r in rs {
        if r.custom {
            let s = crd_schema(r);
            definitions::closure(&s, &mut names);
            out.insert(crd_name(r), s);
        } else if let Some(name) = definitions::name_of(&r.group, &r.version, &r.kind) {
            names.insert(name.to_string());
            definitions::closure(&definitions::all()[name], &mut names);
        }
    }
    for name in names {
        if let Some(d) = definitions::all().get(&name) {
            out.insert(name, d.clone());
        }
    }
    out
}

fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// PATCH and PUT of each resource with their query parameters (`in: query`, v3 `schema` or v2
/// `type`).
fn paths<'a>(rs: impl Iterator<Item = &'a ResourceInfo>, v3: bool) -> Map<String, Value> {
    let params: Vec<Value> = [
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
        "pretty",
    ]
    .iter()
    .map(|n| {
        let ty = if *n == "force" { "boolean" } else { "string" };
        if v3 {
            json!({"name": n, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
        } else {
            json!({"name": n, "in": "query", "type": ty, "uniqueItems": true})
        }
    })
    .collect();
    let mut out = Map::new();
    for r in rs.filter(|r| !r.review) {
        let base = prefix(&r.group, &r.version);
        let path = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = |action: &str| {
            json!({"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action, "parameters": params,
                   "responses": {"200": {"description": "OK"}}})
        };
        out.insert(path, json!({"patch": op("patch"), "put": op("put")}));
    }
    out
}

/// `/openapi/v2`: every definition (built-in and CRD) and every resource's PATCH and PUT.
pub(crate) fn v2(reg: &Registry) -> Value {
    let mut defs = definitions::all().clone();
    for r in reg.all().iter().filter(|r| r.custom) {
        defs.insert(crd_name(r), crd_schema(r));
    }
    json!({"swagger": "2.0", "info": info(), "paths": paths(reg.all().iter().map(|r| &**r), false), "definitions": defs})
}

/// A v2 schema in v3 form: `#/components/schemas/` references, wrapped in `allOf` where the
/// reference has siblings (a description), as kube-apiserver's v3 documents do.
fn to_v3(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref").cloned() {
                let r = r.replace("#/definitions/", "#/components/schemas/");
                if m.len() == 1 {
                    m.insert("$ref".into(), Value::String(r));
                } else {
                    m.remove("$ref");
                    m.insert("allOf".into(), json!([{"$ref": r}]));
                }
                return;
            }
            m.values_mut().for_each(to_v3);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v3),
        _ => {}
    }
}

fn served_in<'a>(
    reg: &'a Registry,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a ResourceInfo> + 'a {
    reg.all()
        .iter()
        .map(|r| &**r)
        .filter(move |r| r.group == group && r.version == version)
}

/// A hash of what a group-version document depends on (its kinds and their CRD schemas), so
/// the index's `serverRelativeURL` changes when a CRD does, and clients refetch.
fn hash(reg: &Registry, group: &str, version: &str) -> String {
    let mut h = Sha256::new();
    for r in served_in(reg, group, version) {
        h.update(r.kind.as_bytes());
        h.update(r.plural.as_bytes());
        if let Some(s) = &r.schema {
            h.update(s.to_string().as_bytes());
        }
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `/openapi/v3`: one entry per served group/version.
pub(crate) fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, versions) in reg.groups() {
        for v in versions {
            let key = prefix(&g, &v).trim_start_matches('/').to_string();
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(reg, &g, &v))}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`; `None` if not served.
pub(crate) fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    served_in(reg, group, version).next()?;
    let mut schemas = Value::Object(schemas_for(served_in(reg, group, version)));
    to_v3(&mut schemas);
    Some(json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths(served_in(reg, group, version), true),
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_version_documents_carry_the_kinds_and_what_they_refer_to() {
        let reg = Registry::default();
        let apps = group_version(&reg, "apps", "v1").unwrap();
        let schemas = &apps["components"]["schemas"];
        let spec = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"];
        assert_eq!(spec["replicas"]["type"], "integer");
        assert_eq!(
            spec["template"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"
        );
        assert!(schemas["io.k8s.api.core.v1.Container"].is_object());
        assert!(group_version(&reg, "nope.example.com", "v1").is_none());
        let v2 = v2(&reg);
        assert!(v2["definitions"]["io.k8s.api.core.v1.ConfigMap"].is_object());
    }
}
