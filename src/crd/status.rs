//! The typed `status` schema the controller writes (kstatus-compatible).

use serde_json::{Value, json};

/// Schema of `.status`: observedGeneration, conditions (a map list keyed by `type`)
/// and the rendered children with their readiness.
pub(crate) fn status_schema() -> Value {
    json!({
        "type": "object",
        "description": "Observed state, written by tera-operator.",
        "properties": {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The metadata.generation this status describes."
            },
            "conditions": {
                "type": "array",
                "description": "Ready, Reconciling and Stalled conditions.",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                        "observedGeneration": {"type": "integer", "format": "int64"}
                    }
                }
            },
            "children": {
                "type": "array",
                "description": "The objects rendered for this resource.",
                "items": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "ready": {"type": "boolean"}
                    }
                }
            }
        }
    })
}
