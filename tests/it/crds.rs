//! The checked-in CRDs: up to date with the charts, and as validators they accept every
//! example and refuse every invalid one.

use std::path::Path;

use serde_json::Value;
use tera_operator::crd::generate_all;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn checked_in_crds_are_up_to_date() {
    let generated = generate_all(&root().join("charts/watches.yaml")).unwrap();
    assert_eq!(generated.len(), 2);
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        on_disk, names,
        "crds/ holds other files than `tera-operator crd` generates"
    );
    for (name, yaml) in generated {
        let current = std::fs::read_to_string(root().join("crds").join(&name)).unwrap();
        assert!(
            current == yaml,
            "crds/{name} is stale: run `cargo run -- crd --output-dir crds`"
        );
    }
}

fn validator_for(kind: &str) -> jsonschema::Validator {
    for (_, yaml) in generate_all(&root().join("charts/watches.yaml")).unwrap() {
        let crd: Value = serde_yaml::from_str(&yaml).unwrap();
        if crd["spec"]["names"]["kind"] == kind {
            let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            return jsonschema::validator_for(&tera_operator::crd::validator_schema(schema))
                .unwrap();
        }
    }
    panic!("no CRD for {kind}");
}

fn documents(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_yaml::Deserializer::from_str(&text)
                .map(|d| {
                    (
                        p.display().to_string(),
                        serde::Deserialize::deserialize(d).unwrap(),
                    )
                })
                .collect::<Vec<(String, Value)>>()
        })
        .filter(|(_, v)| {
            v["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("web.tera-operator.io/"))
        })
        .collect()
}

#[test]
fn crd_schemas_accept_the_examples() {
    let examples = documents("examples");
    assert_eq!(examples.len(), 2);
    for (file, cr) in examples {
        let validator = validator_for(cr["kind"].as_str().unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&cr)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
}

#[test]
fn crd_schemas_refuse_the_invalid_examples() {
    let invalid = documents("examples/invalid");
    assert!(invalid.len() >= 6);
    for (file, cr) in invalid {
        let validator = validator_for(cr["kind"].as_str().unwrap());
        assert!(!validator.is_valid(&cr), "{file} passed the CRD schema");
    }
}

#[test]
fn crd_command_prints_both_crds() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("crd")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "webservers.web.tera-operator.io",
            "balancers.web.tera-operator.io"
        ]
    );
    for d in &docs {
        assert_eq!(
            d["spec"]["versions"][0]["subresources"]["status"],
            serde_json::json!({})
        );
        let columns: Vec<&str> = d["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns.first(), Some(&"Ready"));
        assert_eq!(columns.last(), Some(&"Age"));
        let schema = &d["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert!(tera_operator::crd::check_structural(schema).is_empty());
    }
}
