//! `meta.k8s.io/v1` representations: Tables for `kubectl get` (the columns a real server prints
//! for built-in types, a CRD's additionalPrinterColumns) and PartialObjectMetadata for metadata watches.

use serde_json::{Value, json};

use crate::api::resources::ResourceInfo;

/// A human age like kubectl prints it (`5s`, `3m`, `2h`, `4d`).
pub(crate) fn age(created: &str) -> String {
    let Ok(t) = created.parse::<k8s_openapi::jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (k8s_openapi::jiff::Timestamp::now().as_second() - t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn json_path<'a>(obj: &'a Value, path: &str) -> &'a Value {
    let mut cur = obj;
    for seg in path
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
    {
        cur = &cur[seg];
    }
    cur
}

/// Evaluates the JSONPath subset CRD printer columns use: `.field`, `[N]`, `[*]` and
/// `[?(@.field=="value")]`; every match, in order.
fn json_path_all<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![obj];
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let field = &after[..end];
            if !field.is_empty() {
                current = current.into_iter().filter_map(|v| v.get(field)).collect();
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return Vec::new();
            };
            let selector = &after[..end];
            rest = &after[end + 1..];
            current = current
                .into_iter()
                .flat_map(|v| select(v, selector))
                .collect();
        } else {
            return Vec::new();
        }
    }
    current
}

/// One bracket selector applied to `value`.
fn select<'a>(value: &'a Value, selector: &str) -> Vec<&'a Value> {
    let items: Vec<&Value> = value
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if selector == "*" {
        return items;
    }
    if let Ok(index) = selector.parse::<usize>() {
        return items.get(index).copied().into_iter().collect();
    }
    let Some(filter) = selector
        .strip_prefix("?(@.")
        .and_then(|f| f.strip_suffix(')'))
    else {
        return Vec::new();
    };
    let Some((field, expected)) = filter.split_once("==") else {
        return Vec::new();
    };
    let expected = expected.trim().trim_matches(|c| c == '"' || c == '\'');
    items
        .into_iter()
        .filter(|item| json_path(item, field.trim()).as_str() == Some(expected))
        .collect()
}

/// A printer column's cell: the single match, or the matches joined with spaces.
fn column_value(obj: &Value, path: &str) -> Value {
    let found = json_path_all(obj, path);
    match found.as_slice() {
        [] => Value::Null,
        [one] => (*one).clone(),
        many => Value::String(
            many.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

fn cell(v: &Value) -> Value {
    match v {
        Value::Null => json!("<none>"),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

type Getter = Box<dyn Fn(&Value) -> Value>;

struct Column {
    name: String,
    ty: &'static str,
    priority: i64,
    get: Getter,
}

fn col(name: &str, get: impl Fn(&Value) -> Value + 'static) -> Column {
    Column {
        name: name.into(),
        ty: "string",
        priority: 0,
        get: Box::new(get),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn count(v: &Value) -> i64 {
    v.as_object().map(|m| m.len() as i64).unwrap_or(0)
}

fn age_of(field: &'static str) -> impl Fn(&Value) -> Value {
    move |o: &Value| {
        let t = json_path(o, field)
            .as_str()
            .or_else(|| o["metadata"]["creationTimestamp"].as_str())
            .unwrap_or_default();
        json!(age(t))
    }
}

fn name_col(priority: i64) -> Column {
    Column {
        name: "Name".into(),
        ty: "string",
        priority,
        get: Box::new(|o| o["metadata"]["name"].clone()),
    }
}

fn columns(res: &ResourceInfo) -> Vec<Column> {
    let mut cols = vec![name_col(0)];
    match (res.group.as_str(), res.plural.as_str()) {
        ("apps", "deployments") => {
            cols.push(col("Ready", |o| {
                json!(format!(
                    "{}/{}",
                    int(&o["status"]["readyReplicas"]),
                    int(&o["spec"]["replicas"])
                ))
            }));
            cols.push(col("Up-to-date", |o| {
                json!(int(&o["status"]["updatedReplicas"]))
            }));
            cols.push(col("Available", |o| {
                json!(int(&o["status"]["availableReplicas"]))
            }));
        }
        ("", "services") => {
            cols.push(col("Type", |o| cell(&o["spec"]["type"])));
            cols.push(col("Cluster-IP", |o| cell(&o["spec"]["clusterIP"])));
            cols.push(col("External-IP", |_| json!("<none>")));
            cols.push(col("Port(s)", |o| {
                let ports: Vec<String> = o["spec"]["ports"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                })
            }));
        }
        ("", "configmaps") => cols.push(col("Data", |o| {
            json!(count(&o["data"]) + count(&o["binaryData"]))
        })),
        ("", "secrets") => {
            cols.push(col("Type", |o| cell(&o["type"])));
            cols.push(col("Data", |o| json!(count(&o["data"]))));
        }
        ("", "namespaces") => cols.push(col("Status", |o| cell(&o["status"]["phase"]))),
        ("", "pods") => {
            cols.push(col("Status", |o| {
                json!(o["status"]["phase"].as_str().unwrap_or("Pending"))
            }));
        }
        ("", "events") | ("events.k8s.io", "events") => {
            let new = res.group == "events.k8s.io";
            cols = vec![
                col("Last Seen", move |o| {
                    let t = ["lastTimestamp", "deprecatedLastTimestamp", "eventTime"]
                        .iter()
                        .find_map(|f| o[*f].as_str())
                        .unwrap_or_default();
                    json!(age(t))
                }),
                col("Type", |o| cell(&o["type"])),
                col("Reason", |o| cell(&o["reason"])),
                col("Object", move |o| {
                    let r = if new {
                        &o["regarding"]
                    } else {
                        &o["involvedObject"]
                    };
                    json!(format!(
                        "{}/{}",
                        r["kind"].as_str().unwrap_or_default().to_lowercase(),
                        r["name"].as_str().unwrap_or_default()
                    ))
                }),
                col("Message", move |o| {
                    cell(if new { &o["note"] } else { &o["message"] })
                }),
                name_col(1),
            ];
            return cols;
        }
        ("coordination.k8s.io", "leases") => {
            cols.push(col("Holder", |o| cell(&o["spec"]["holderIdentity"])))
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            cols.push(col("Created At", |o| {
                cell(&o["metadata"]["creationTimestamp"])
            }));
            return cols;
        }
        _ => {
            for c in res.printer_columns.iter().filter(|c| c["name"] != "Age") {
                let path = c["jsonPath"].as_str().unwrap_or_default().to_string();
                let date = c["type"] == "date";
                cols.push(Column {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    ty: "string",
                    priority: c["priority"].as_i64().unwrap_or(0),
                    get: Box::new(move |o| {
                        let v = column_value(o, &path);
                        if date {
                            v.as_str().map(|s| json!(age(s))).unwrap_or(json!("<none>"))
                        } else {
                            cell(&v)
                        }
                    }),
                });
            }
        }
    }
    cols.push(col("Age", age_of("metadata.creationTimestamp")));
    cols
}

/// An object reduced to `PartialObjectMetadata` (what `Accept: …;as=PartialObjectMetadata` asks for).
pub(crate) fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// A Table of `items` for `res`.
pub(crate) fn table(res: &ResourceInfo, items: &[Value], rv: u64) -> Value {
    let cols = columns(res);
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| json!({"name": c.name, "type": c.ty, "format": if c.name == "Name" { "name" } else { "" }, "description": "", "priority": c.priority}))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| (c.get)(o)).collect();
            let mut meta = o["metadata"].clone();
            if let Some(m) = meta.as_object_mut() {
                m.remove("managedFields");
            }
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::Registry;

    #[test]
    fn printer_column_json_paths() {
        let o = json!({
            "spec": {"backends": [{"name": "v1"}, {"name": "v2"}], "replicas": 3},
            "status": {"conditions": [
                {"type": "Reconciling", "status": "False"},
                {"type": "Ready", "status": "True"}
            ]}
        });
        assert_eq!(column_value(&o, ".spec.replicas"), json!(3));
        assert_eq!(column_value(&o, ".spec.backends[*].name"), json!("v1 v2"));
        assert_eq!(column_value(&o, ".spec.backends[1].name"), json!("v2"));
        assert_eq!(
            column_value(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            json!("True")
        );
        assert_eq!(column_value(&o, ".status.missing"), Value::Null);
    }

    #[test]
    fn deployment_ready_column() {
        let reg = Registry::default();
        let res = reg.find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 2}});
        let t = table(res, &[d], 5);
        assert_eq!(t["rows"][0]["cells"][0], "web");
        assert_eq!(t["rows"][0]["cells"][1], "2/3");
        assert_eq!(
            t["columnDefinitions"].as_array().unwrap().last().unwrap()["name"],
            "Age"
        );
    }
}
