//! The bundled examples, each with the mapping entry that serves it.

use std::path::Path;

use serde_json::Value;
use tera_operator::config::{Mapping, Watch};

/// Loads an example custom resource (a path under the repository) and its entry in
/// `charts/watches.yaml`.
pub fn example_and_watch(file: &str) -> (Value, Watch) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping = Mapping::load(&root.join("charts/watches.yaml")).expect("mapping");
    let text = std::fs::read_to_string(root.join(file)).expect("example");
    let resource: Value = serde_yaml::from_str(&text).expect("example yaml");
    let watch = mapping
        .find(
            resource["apiVersion"].as_str().expect("apiVersion"),
            resource["kind"].as_str().expect("kind"),
        )
        .expect("a mapping entry for the example")
        .clone();
    (resource, watch)
}
