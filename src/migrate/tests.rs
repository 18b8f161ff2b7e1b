//! Tests of Helm release decoding, the revision choice, the custom resource and the plan.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use super::release::{decode, revision, secret_name};
use super::*;
use crate::config::Mapping;

fn release_json() -> Value {
    json!({
        "name": "site",
        "namespace": "web",
        "version": 3,
        "config": {"replicas": 2, "content": {"index.html": "<h1>hi</h1>"}},
        "chart": {"metadata": {"name": "webserver", "version": "0.1.0"}, "values": {"replicas": 1}},
        "info": {"status": "deployed"},
        "manifest": "---\n# Source: webserver/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: site\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: site\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site-extra\n",
    })
}

/// Encodes like Helm's storage driver: JSON, gzip, base64.
fn helm_encode(value: &Value) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(value.to_string().as_bytes()).unwrap();
    let zipped = gz.finish().unwrap();
    base64::engine::general_purpose::STANDARD
        .encode(zipped)
        .into_bytes()
}

#[test]
fn decodes_a_gzipped_release_like_helm_stores_it() {
    let release = decode("sh.helm.release.v1.site.v3", &helm_encode(&release_json())).unwrap();
    assert_eq!(release.name, "site");
    assert_eq!(release.namespace, "web");
    assert_eq!(release.version, 3);
    assert_eq!(release.config, release_json()["config"]);
    assert_eq!(release.chart_name, "webserver");
    assert_eq!(release.status, "deployed");
}

#[test]
fn decodes_an_uncompressed_release() {
    let plain = base64::engine::general_purpose::STANDARD.encode(release_json().to_string());
    let release = decode("s", plain.as_bytes()).unwrap();
    assert_eq!(release.config["replicas"], 2);
}

#[test]
fn empty_config_becomes_an_empty_spec() {
    let mut value = release_json();
    value["config"] = Value::Null;
    let release = decode("s", &helm_encode(&value)).unwrap();
    assert_eq!(release.config, json!({}));
}

#[test]
fn decode_errors_name_the_secret_and_the_step() {
    let err = decode("sh.helm.release.v1.x.v1", b"!!not base64!!").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Secret sh.helm.release.v1.x.v1: decoding the Helm release failed at the base64 step"
        ),
        "{err}"
    );
    let mut broken = base64::engine::general_purpose::STANDARD
        .decode(helm_encode(&release_json()))
        .unwrap();
    broken.truncate(20);
    let err = decode(
        "s",
        base64::engine::general_purpose::STANDARD
            .encode(broken)
            .as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gzip step"), "{err}");
    let not_json = base64::engine::general_purpose::STANDARD.encode("{nope");
    let err = decode("s", not_json.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("JSON step"), "{err}");
    let no_name = base64::engine::general_purpose::STANDARD.encode("{}");
    let err = decode("s", no_name.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("no name"), "{err}");
}

#[test]
fn revisions_come_from_the_label_or_the_name() {
    assert_eq!(revision("sh.helm.release.v1.site.v12", None), Some(12));
    assert_eq!(
        revision("sh.helm.release.v1.site.v12", Some("13")),
        Some(13)
    );
    assert_eq!(revision("odd", None), None);
    assert_eq!(secret_name("site", 4), "sh.helm.release.v1.site.v4");
}

#[test]
fn custom_resource_takes_the_mapping_apiversion_and_the_user_values() {
    let mapping =
        Mapping::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/watches.yaml")).unwrap();
    let watch = mapping
        .watches
        .iter()
        .find(|w| w.kind == "WebServer")
        .unwrap();
    let release = decode("s", &helm_encode(&release_json())).unwrap();
    assert_eq!(
        custom_resource(&release, watch, "web"),
        json!({
            "apiVersion": "web.tera-operator.io/v1alpha1",
            "kind": "WebServer",
            "metadata": {"name": "site", "namespace": "web", "annotations": {"tera-operator.io/adopt": "true"}},
            "spec": {"replicas": 2, "content": {"index.html": "<h1>hi</h1>"}},
        })
    );
}

#[test]
fn plan_sorts_objects_and_says_how_to_drop_the_release_records() {
    let release = decode("s", &helm_encode(&release_json())).unwrap();
    let helm = manifest_objects(&release.manifest);
    assert_eq!(
        helm,
        BTreeSet::from([
            "ConfigMap/site-extra".to_string(),
            "Deployment/site".into(),
            "Service/site".into()
        ])
    );
    let rendered = BTreeSet::from([
        "ConfigMap/site".to_string(),
        "Deployment/site".into(),
        "Service/site".into(),
    ]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mapping = Mapping::load(&root.join("charts/watches.yaml")).unwrap();
    let watch = mapping
        .watches
        .iter_mut()
        .find(|w| w.kind == "WebServer")
        .unwrap();
    watch.adopt_helm_releases = true;
    let text = plan(
        &release,
        watch,
        "web",
        &helm,
        Some(&rendered),
        &["sh.helm.release.v1.site.v3".into()],
    );
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
    assert!(!text.contains("NOT ALLOWED"), "{text}");
    assert!(text.contains("# Adopted in place (same uid; labels and ownerReference added) (2):\n#   Deployment/site\n#   Service/site\n"), "{text}");
    assert!(text.contains("(1):\n#   ConfigMap/site\n"), "{text}");
    assert!(
        text.contains("delete by hand if unwanted) (1):\n#   ConfigMap/site-extra\n"),
        "{text}"
    );
    assert!(
        text.contains("kubectl delete secret -n web -l owner=helm,name=site\n"),
        "{text}"
    );
    assert!(
        text.contains("kubectl wait --for=condition=Ready -n web webserver/site --timeout=5m"),
        "{text}"
    );
    assert!(
        text.contains("(removes sh.helm.release.v1.site.v3)"),
        "{text}"
    );
}

fn secret(version: u64, status: &str, data: Option<Vec<u8>>) -> k8s_openapi::api::core::v1::Secret {
    let mut secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": secret_name("site", version),
                     "labels": {"owner": "helm", "name": "site", "version": version.to_string(), "status": status}},
    }))
    .unwrap();
    secret.data =
        data.map(|d| [(release::RELEASE_KEY.to_string(), k8s_openapi::ByteString(d))].into());
    secret
}

#[test]
fn the_newest_deployed_revision_is_chosen_else_the_newest() {
    let data = || Some(helm_encode(&release_json()));
    let secrets = [
        secret(3, "superseded", data()),
        secret(2, "deployed", data()),
        secret(4, "failed", data()),
    ];
    let stored = latest("site", "web", &secrets).unwrap();
    assert_eq!((stored.revision, stored.deployed), (2, true));
    assert_eq!(
        stored.secrets,
        ["v2", "v3", "v4"].map(|v| format!("sh.helm.release.v1.site.{v}"))
    );
    assert_eq!(stored.decode().unwrap().name, "site");

    let stored = latest("site", "web", &secrets[..1]).unwrap();
    assert_eq!((stored.revision, stored.deployed), (3, false));

    let err = latest("site", "web", &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "no Helm release site in namespace web: no Secret labelled owner=helm,name=site"
    );
    let empty = [secret(1, "deployed", None)];
    let err = latest("site", "web", &empty).unwrap().decode().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secret web/sh.helm.release.v1.site.v1 has no `release` key: not a Helm release record"
    );
}

#[test]
fn the_mapped_kind_must_be_mapped_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping = Mapping::load(&root.join("charts/watches.yaml")).unwrap();
    assert_eq!(
        mapped_kind(&mapping, "WebServer").unwrap().kind,
        "WebServer"
    );
    let err = mapped_kind(&mapping, "Gadget").unwrap_err().to_string();
    assert!(
        err.ends_with(
            "watches.yaml: no mapping entry serves kind Gadget (mapped: WebServer, Balancer)"
        ),
        "{err}"
    );
}

#[test]
fn rendered_objects_name_what_the_chart_renders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping = Mapping::load(&root.join("charts/watches.yaml")).unwrap();
    let watch = mapped_kind(&mapping, "WebServer").unwrap();
    let release = decode("s", &helm_encode(&release_json())).unwrap();
    let cr = custom_resource(&release, watch, "web");
    let objects = rendered_objects(watch, &cr, "web").unwrap();
    assert!(objects.contains("Deployment/site"), "{objects:?}");
    let mut bad = cr.clone();
    bad["spec"]["replicas"] = json!(-1);
    assert!(rendered_objects(watch, &bad, "web").is_err());
}

#[test]
fn plan_says_when_the_mapping_does_not_allow_adoption() {
    let release = decode("s", &helm_encode(&release_json())).unwrap();
    let helm = manifest_objects(&release.manifest);
    let rendered = BTreeSet::from(["Deployment/site".to_string(), "Service/site".into()]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping = Mapping::load(&root.join("charts/watches.yaml")).unwrap();
    let watch = mapped_kind(&mapping, "WebServer").unwrap();
    assert!(
        !adoption_allowed(watch),
        "the bundled mapping adopts nothing"
    );
    let text = plan(&release, watch, "web", &helm, Some(&rendered), &[]);
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
    assert!(
        text.contains("# NOT ALLOWED: the mapping entry of WebServer does not allow adopting Helm releases (adoptHelmReleases: true is not set)."),
        "{text}"
    );
    assert!(text.contains("Ready=False (AdoptionRefused)"), "{text}");
    assert!(
        text.contains("# Refused (Helm's: the mapping does not allow adopting them) (2):\n#   Deployment/site\n#   Service/site\n"),
        "{text}"
    );
    assert!(!text.contains("Adopted in place"), "{text}");
}
