//! Validation of writes: object names, Events, immutable fields, finalizers of deleting objects, custom resources against their CRD's schema, CRD names.

use serde_json::Value;

use crate::api::defaults;
use crate::api::errors::{ApiError, Result};
use crate::api::event_rules;
use crate::api::immutable;
use crate::api::resources::{self, ResourceInfo};
use crate::api::rules;
use crate::api::schema;
use crate::api::store::Store;
use crate::api::verbs::WriteOptions;

/// Validates (and prunes, for custom resources) an object about to be stored; 422 Invalid on
/// failure, 400 for unknown fields under `fieldValidation=Strict`.
pub(crate) fn validate(
    store: &Store,
    res: &ResourceInfo,
    obj: &mut Value,
    old: Option<&Value>,
    opts: &WriteOptions,
) -> Result<()> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut errs = Vec::new();
    // core/v1 Events keep any name (old clients); events.k8s.io/v1 creates validate it.
    let legacy_event = res.storage == "events" && (res.group.is_empty() || old.is_some());
    if !k8s_rules::names::is_dns_subdomain(&name) && !legacy_event {
        errs.push((
            "metadata.name".to_string(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        ));
    }
    if res.storage == "batch/cronjobs" {
        errs.extend(cronjob_errors(obj));
    }
    if res.storage == "events" {
        errs.extend(event_rules::errors(obj, &res.group, old.is_none()));
    }
    if !res.custom {
        errs.extend(rules::metadata_errors(obj));
        errs.extend(rules::pod_errors(&res.group, &res.plural, obj));
        if res.group.is_empty() && res.plural == "services" {
            errs.extend(defaults::node_port_errors(store, obj));
        }
    }
    if let Some(old) = old {
        errs.extend(no_new_finalizers_while_deleting(old, obj));
        if !res.custom {
            errs.extend(immutable::changes(&res.group, &res.plural, old, obj));
        }
    }
    if let Some(s) = &res.schema {
        let checked = schema::check_custom_resource(obj, s);
        opts.unknown_fields(res, &checked.pruned)?;
        errs.extend(checked.errors);
    }
    if resources::is_crd(res) {
        let spec = &obj["spec"];
        let want = format!(
            "{}.{}",
            spec["names"]["plural"].as_str().unwrap_or_default(),
            spec["group"].as_str().unwrap_or_default()
        );
        if want != name {
            errs.push((
                "metadata.name".into(),
                format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if resources::from_crd(obj).is_empty() && errs.is_empty() {
            errs.push(("spec.versions".into(), "Invalid value: \"null\": must have exactly one version marked as storage version and names.plural, names.kind, group set".into()));
        }
        let storage = resources::crd_storage(obj);
        if store
            .registry
            .all()
            .iter()
            .any(|r| !r.custom && r.storage == storage)
        {
            errs.push((
                "spec.names.plural".into(),
                "Invalid value: conflicts with a built-in resource".into(),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&res.group, &res.kind, &name, &errs))
    }
}

/// `metadata.finalizers` may only shrink once an object is being deleted (apimachinery's
/// ValidateObjectMetaUpdate: "no new finalizers can be added if the object is being deleted").
fn no_new_finalizers_while_deleting(old: &Value, new: &Value) -> Option<(String, String)> {
    if new["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let names = |o: &Value| -> std::collections::BTreeSet<String> {
        o["metadata"]["finalizers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = names(old);
    let added: Vec<String> = names(new)
        .difference(&before)
        .map(|f| format!("{f:?}"))
        .collect();
    (!added.is_empty()).then(|| {
        (
            "metadata.finalizers".into(),
            format!(
                "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                added.join(", ")
            ),
        )
    })
}

/// A CronJob's schedule must parse (upstream validates it with robfig/cron's ParseStandard);
/// the sandbox runs schedules in UTC only, and says so for any other `spec.timeZone`.
fn cronjob_errors(obj: &Value) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let schedule = obj["spec"]["schedule"].as_str().unwrap_or_default();
    if let Err(e) = crate::sim::cron::Schedule::parse(schedule) {
        errs.push((
            "spec.schedule".into(),
            format!("Invalid value: {schedule:?}: {e}"),
        ));
    }
    if let Some(tz) = obj["spec"]["timeZone"].as_str()
        && !matches!(tz, "UTC" | "Etc/UTC")
    {
        errs.push((
            "spec.timeZone".into(),
            format!("Invalid value: {tz:?}: the sandbox runs CronJob schedules in UTC only"),
        ));
    }
    errs
}
