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

/// A CronJob's schedule must parse (upstream validates it with robfig/cron's ParseStandard), and
/// its time zone must name a zone of the IANA database (`validateTimeZone`, whose
/// `time.LoadLocation` reads the tzdata kube-apiserver embeds).
fn cronjob_errors(obj: &Value) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let schedule = obj["spec"]["schedule"].as_str().unwrap_or_default();
    if schedule.contains("TZ") {
        // A new object may not carry TZ= or CRON_TZ= (only an old one that already had it may).
        errs.push((
            "spec.schedule".into(),
            format!(
                "Invalid value: {schedule:?}: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            ),
        ));
    } else if let Err(e) = crate::sim::cron::Schedule::parse(schedule) {
        errs.push((
            "spec.schedule".into(),
            format!("Invalid value: {schedule:?}: {e}"),
        ));
    }
    if let Some(tz) = obj["spec"]["timeZone"].as_str()
        && let Err(why) = time_zone_error(tz)
    {
        errs.push((
            "spec.timeZone".into(),
            format!("Invalid value: {tz:?}: {why}"),
        ));
    }
    errs
}

/// Why `tz` is not a time zone a CronJob may name, as upstream's `validateTimeZone` says it.
fn time_zone_error(tz: &str) -> Result<(), String> {
    if tz.is_empty() {
        return Err("timeZone must be nil or non-empty string".into());
    }
    let unknown = || format!("unknown time zone {tz}");
    // IANA's naming rules: components of 1-14 characters from [A-Za-z.-_0-9+], not `.`, `..`
    // or starting with `-`.
    let valid_part = |p: &str| {
        (1..=14).contains(&p.len())
            && p != "."
            && p != ".."
            && !p.starts_with('-')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    };
    if !tz.split('/').all(valid_part) {
        return Err(unknown());
    }
    if tz.eq_ignore_ascii_case("Local") {
        return Err(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                .into(),
        );
    }
    jiff::tz::TimeZone::get(tz)
        .map(|_| ())
        .map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_checked_as_upstream_does() {
        assert_eq!(time_zone_error("Europe/Berlin"), Ok(()));
        assert_eq!(time_zone_error("America/Argentina/Buenos_Aires"), Ok(()));
        assert_eq!(time_zone_error("Etc/GMT+5"), Ok(()));
        assert_eq!(time_zone_error("UTC"), Ok(()));
        assert_eq!(
            time_zone_error("Mars/Olympus_Mons"),
            Err("unknown time zone Mars/Olympus_Mons".into())
        );
        assert_eq!(
            time_zone_error("../etc/passwd"),
            Err("unknown time zone ../etc/passwd".into())
        );
        assert!(
            time_zone_error("local")
                .unwrap_err()
                .contains("explicit time zone")
        );
        assert!(time_zone_error("").unwrap_err().contains("non-empty"));
    }

    #[test]
    fn a_schedule_may_not_carry_its_own_time_zone() {
        let cj = serde_json::json!({"spec": {"schedule": "CRON_TZ=UTC 0 * * * *", "timeZone": "Asia/Tokyo"}});
        let errs = cronjob_errors(&cj);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].1.contains("use timeZone field instead"), "{errs:?}");
    }
}
