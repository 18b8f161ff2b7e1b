//! `meta.k8s.io/v1` Table responses for `kubectl get` (Name, Age, and a CRD's printer columns).

use serde_json::{Value, json};

use super::resources::ResourceInfo;

/// A human age like kubectl prints it (`5s`, `3m`, `2h`, `4d`).
pub fn age(created: &str) -> String {
    let Ok(t) = created.parse::<k8s_openapi::jiff::Timestamp>() else { return "<unknown>".into() };
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
    for seg in path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()) {
        cur = &cur[seg];
    }
    cur
}

fn cell(v: &Value) -> Value {
    match v {
        Value::Null => json!(""),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

/// A Table of `items` for `res`.
pub fn table(res: &ResourceInfo, items: &[Value], rv: u64) -> Value {
    let mut columns = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0})];
    let custom: Vec<&Value> = res.printer_columns.iter().filter(|c| c["name"] != "Age").collect();
    for c in &custom {
        columns.push(json!({"name": c["name"], "type": c["type"], "format": c["format"].as_str().unwrap_or_default(),
            "description": c["description"].as_str().unwrap_or_default(), "priority": c["priority"].as_i64().unwrap_or(0)}));
    }
    columns.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            for c in &custom {
                let v = json_path(o, c["jsonPath"].as_str().unwrap_or_default());
                cells.push(if c["type"] == "date" { v.as_str().map(|s| json!(age(s))).unwrap_or(json!("")) } else { cell(v) });
            }
            cells.push(json!(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or_default())));
            let mut meta = o["metadata"].clone();
            if let Some(m) = meta.as_object_mut() {
                m.remove("managedFields");
            }
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "columnDefinitions": columns, "rows": rows})
}
