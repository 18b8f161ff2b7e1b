//! Applying one rendered object: compare it with the live object, server-side apply only on a difference.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use sha2::Digest as _;

/// The field manager every write of tera-operator uses.
pub(crate) const FIELD_MANAGER: &str = "tera-operator";

/// Annotation carrying a hash of the whole desired object, so that a field the chart stops
/// setting (which a subset comparison cannot see) still causes an apply that removes it.
pub(crate) const DESIRED_HASH_ANNOTATION: &str = "tera-operator.io/desired-hash";

/// Errors applying one object.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The API server refused the server-side apply.
    #[error("applying {kind} {namespace}/{name} failed: {}", api_error_text(.source))]
    ApplyFailed {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// An API error as a status message would show it: the API server's message with its code
/// and reason (`pods "x" is forbidden: … (403 Forbidden)`), or the client error as it is.
pub(crate) fn api_error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.reason.is_empty() => {
            format!("{} ({})", status.message, status.code)
        }
        kube::Error::Api(status) => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

/// One remembered write.
#[derive(Debug, Clone)]
struct Written {
    hash: Box<str>,
    version: Box<str>,
    not_ready: Option<Box<str>>,
}

/// What is remembered of one child: our latest write and the newest resourceVersion the child
/// watches delivered (deletes included), in one entry under one key.
#[derive(Debug, Default)]
struct Entry {
    written: Option<Written>,
    observed: Option<u64>,
}

impl Entry {
    /// Raises the observed resourceVersion to `version` if that is newer.
    fn observe(&mut self, version: u64) {
        self.observed = Some(self.observed.map_or(version, |seen| seen.max(version)));
    }
}

/// What tera-operator last applied to each child, keyed by its identity (see [`memory_key`]).
///
/// It answers two questions the cache alone cannot:
/// - the live object is still at the resourceVersion our apply returned, so a difference from
///   the desired object can only be the server's own normalization (quantities like `0.5` →
///   `500m`): no new write;
/// - the child watch has not delivered our own write yet (the cache lags the response by one
///   watch event): no second write of the same content.
#[derive(Debug, Default)]
pub(crate) struct AppliedMemory {
    /// Entries are boxed: a table of 30,000 children has 65,536 slots (a hash table grows in
    /// powers of two and keeps a fraction free), and a slot of a key and a pointer takes 24
    /// bytes where a key and an entry took 80.
    memory: std::sync::Mutex<std::collections::HashMap<Box<str>, Box<Entry>>>,
}

/// `group/kind/namespace/name`, the key of [`AppliedMemory`]: a child's identity, never its
/// apiVersion (one object is served, and watched, at every version of its kind).
pub(crate) fn memory_key(group: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{group}/{kind}/{namespace}/{name}")
}

impl AppliedMemory {
    /// Remembers that `hash` was applied to `key`, the server answered with
    /// `resource_version`, and what readiness that answer had.
    pub(crate) fn remember(
        &self,
        key: &str,
        hash: &str,
        resource_version: &str,
        not_ready: Option<String>,
    ) {
        if let Ok(mut memory) = self.memory.lock() {
            let written = Written {
                hash: hash.into(),
                version: resource_version.into(),
                not_ready: not_ready.map(String::into_boxed_str),
            };
            match memory.get_mut(key) {
                Some(entry) => entry.written = Some(written),
                None => {
                    memory.insert(
                        key.into(),
                        Box::new(Entry {
                            written: Some(written),
                            observed: None,
                        }),
                    );
                }
            }
        }
    }

    /// A child watch delivered `key` at `resource_version` (added, modified or deleted).
    pub(crate) fn observe(&self, key: &str, resource_version: &str) {
        let Ok(version) = resource_version.parse::<u64>() else {
            return;
        };
        if let Ok(mut memory) = self.memory.lock() {
            match memory.get_mut(key) {
                Some(entry) => entry.observe(version),
                None => {
                    memory.insert(
                        key.into(),
                        Box::new(Entry {
                            written: None,
                            observed: Some(version),
                        }),
                    );
                }
            }
        }
    }

    /// A child watch delivered the deletion of `key` at `resource_version`: forget it, unless
    /// we have written a newer incarnation since (keeps the memory bounded under churn).
    pub(crate) fn deleted(&self, key: &str, resource_version: &str) {
        let Ok(version) = resource_version.parse::<u64>() else {
            return;
        };
        if let Ok(mut memory) = self.memory.lock() {
            let newer = memory.get_mut(key).filter(|entry| {
                entry.written.as_ref().is_some_and(|w| {
                    w.version
                        .parse::<u64>()
                        .ok()
                        .is_none_or(|written| written > version)
                })
            });
            match newer {
                Some(entry) => entry.observe(version),
                None => {
                    memory.remove(key);
                }
            }
        }
    }

    /// A child watch relisted: the cache is authoritative again for every remembered write.
    pub(crate) fn observe_all(&self) {
        if let Ok(mut memory) = self.memory.lock() {
            for entry in memory.values_mut() {
                if let Some(version) = entry
                    .written
                    .as_ref()
                    .and_then(|w| w.version.parse::<u64>().ok())
                {
                    entry.observe(version);
                }
            }
        }
    }

    /// Our latest write of `key`, if remembered.
    fn written(&self, key: &str) -> Option<Written> {
        let memory = self.memory.lock().ok()?;
        memory.get(key)?.written.clone()
    }

    /// Whether `hash` was applied to `key` and the object is unchanged since (`resource_version`).
    pub(crate) fn unchanged_since_apply(
        &self,
        key: &str,
        hash: &str,
        resource_version: &str,
    ) -> bool {
        self.written(key)
            .is_some_and(|w| &*w.hash == hash && &*w.version == resource_version)
    }

    /// The resourceVersion our latest apply of `key` was answered with, if remembered.
    pub(crate) fn written_version(&self, key: &str) -> Option<String> {
        self.written(key).map(|w| w.version.into())
    }

    /// When the child watch has not yet delivered our own write of `hash` to `key`, the
    /// readiness that write had; else `None` (the cache is current: trust it).
    pub(crate) fn cache_behind(&self, key: &str, hash: &str) -> Option<Option<String>> {
        let memory = self.memory.lock().ok()?;
        let entry = memory.get(key)?;
        let written = entry.written.as_ref()?;
        if &*written.hash != hash {
            return None;
        }
        let version = written.version.parse::<u64>().ok()?;
        let behind = entry.observed.is_none_or(|seen| seen < version);
        behind.then(|| written.not_ready.as_deref().map(str::to_string))
    }

    /// Whether the child watch's event of `key` at `resource_version` is the echo of our own
    /// latest apply (the version the API server answered it with): the reconcile that wrote it
    /// already knows that content and its readiness, so the event needs no reconcile.
    pub(crate) fn is_own_write(&self, key: &str, resource_version: &str) -> bool {
        self.memory.lock().ok().is_some_and(|m| {
            m.get(key)
                .and_then(|entry| entry.written.as_ref())
                .is_some_and(|w| &*w.version == resource_version)
        })
    }

    /// Forgets objects whose keys fail `keep`.
    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.retain(|k, _| keep(k));
        }
    }
}

/// The desired-hash annotation of an object, if set.
pub(crate) fn desired_hash(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")?
        .get(DESIRED_HASH_ANNOTATION)?
        .as_str()
}

/// Whether the live object already matches the desired one: the desired object (without
/// `apiVersion` and `kind`, which the cache key already fixes and list items may omit) is a
/// semantic subset of the live one.
pub(crate) fn matches_live(desired: &Value, live: &Value) -> bool {
    match desired.as_object() {
        Some(fields) => fields
            .iter()
            .filter(|(k, _)| *k != "apiVersion" && *k != "kind")
            .all(|(k, v)| match live.get(k) {
                Some(l) => is_subset(v, l),
                None => is_empty_value(v),
            }),
        None => is_subset(desired, live),
    }
}

/// Adds [`DESIRED_HASH_ANNOTATION`] to a rendered object (in place).
pub(crate) fn add_desired_hash(object: &mut Value) {
    let digest = sha2::Sha256::digest(crate::render::compact_json(object));
    let hash = crate::render::hex(&digest[..8]);
    let Some(metadata) = object
        .as_object_mut()
        .and_then(|o| o.get_mut("metadata"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(DESIRED_HASH_ANNOTATION.into(), Value::String(hash));
    }
}

/// Whether `desired` is a semantic subset of `live`: every field the desired object sets has
/// the same value in the live one. Lists must have the same length and match element-wise;
/// numbers compare by value (`3` equals `3.0`); fields only the live object has are ignored.
pub(crate) fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) => is_subset(dv, lv),
            // An explicit null or an empty collection in the desired object matches absence.
            None => is_empty_value(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => match (d.as_i64(), l.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => d.as_f64() == l.as_f64(),
        },
        (Value::Null, Value::Null) => true,
        (d, Value::Null) => is_empty_value(d),
        (d, l) => d == l,
    }
}

/// Null, an empty list, or an object with nothing but such values (`status: {loadBalancer: {}}`
/// as `kubectl create --dry-run -o yaml` writes it): nothing a live object must have.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(o) => o.values().all(is_empty_value),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Server-side applies `object` (field manager [`FIELD_MANAGER`], forced) and returns the live
/// result; with `dry_run` the API server checks and computes the write but stores nothing.
pub(crate) async fn server_side_apply(
    client: &kube::Client,
    resource: &ApiResource,
    namespaced: bool,
    object: &Value,
    dry_run: bool,
) -> Result<DynamicObject> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Decoded without serde's flatten buffering: the answer is cached (see `Decoded`).
    let api: Api<super::custom_resource::Decoded> = if namespaced {
        Api::namespaced_with(client.clone(), &namespace, resource)
    } else {
        Api::all_with(client.clone(), resource)
    };
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map(|decoded| decoded.0)
        .map_err(|source| Error::ApplyFailed {
            kind,
            namespace,
            name,
            source,
        })
}

#[cfg(test)]
mod tests {

    /// A slot of the memory's table is a key and a pointer; the entry lives outside it, so
    /// the free share of a table that grows in powers of two costs 24 bytes a slot, not 80.
    #[test]
    fn a_memory_slot_is_a_key_and_a_pointer() {
        assert_eq!(std::mem::size_of::<(Box<str>, Box<super::Entry>)>(), 24);
        assert!(std::mem::size_of::<super::Entry>() > 24);
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_objects_are_subsets() {
        let o = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
        assert!(is_subset(&o, &o));
    }

    #[test]
    fn live_may_have_more_fields() {
        let desired = json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}});
        let live = json!({"spec": {"replicas": 3, "ports": [{"port": 80, "protocol": "TCP"}],
            "strategy": {}}, "status": {"x": 1}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_scalar_is_not_subset() {
        let desired = json!({"spec": {"replicas": 3}});
        let live = json!({"spec": {"replicas": 5}});
        assert!(!is_subset(&desired, &live));
    }

    #[test]
    fn missing_field_is_not_subset() {
        let desired = json!({"data": {"nginx.conf": "x"}});
        let live = json!({"data": {}});
        assert!(!is_subset(&desired, &live));
    }

    #[test]
    fn list_length_must_match() {
        let desired = json!({"ports": [{"port": 80}]});
        let live = json!({"ports": [{"port": 80}, {"port": 81}]});
        assert!(!is_subset(&desired, &live));
        assert!(!is_subset(&live, &desired));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(is_subset(&json!(3), &json!(3.0)));
        assert!(!is_subset(&json!(3), &json!("3")));
    }

    #[test]
    fn empty_desired_matches_absent() {
        assert!(is_subset(&json!({"a": {}, "b": null, "c": []}), &json!({})));
        assert!(!is_subset(&json!({"a": {"x": 1}}), &json!({})));
        // Nothing but empty structs: nothing the live object must have.
        assert!(is_subset(
            &json!({"status": {"loadBalancer": {}}}),
            &json!({})
        ));
        assert!(!is_subset(&json!({"a": {"b": [1]}}), &json!({})));
    }

    #[test]
    fn live_objects_without_type_fields_still_match() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}});
        let live = json!({"metadata": {"name": "x", "uid": "u"}, "data": {"a": "1"}});
        assert!(matches_live(&desired, &live));
        let drifted = json!({"metadata": {"name": "x"}, "data": {"a": "2"}});
        assert!(!matches_live(&desired, &drifted));
    }

    #[test]
    fn applied_memory_knows_when_the_cache_is_behind() {
        let memory = AppliedMemory::default();
        memory.remember("k", "h1", "10", Some("not yet".into()));
        // Nothing delivered yet: the cached state is older than our write.
        assert_eq!(memory.cache_behind("k", "h1"), Some(Some("not yet".into())));
        memory.observe("k", "9");
        assert!(memory.cache_behind("k", "h1").is_some());
        assert_eq!(
            memory.cache_behind("k", "h2"),
            None,
            "other content must be applied"
        );
        // Delivered (even before the apply answer was remembered): the cache is current.
        memory.observe("k", "10");
        assert_eq!(memory.cache_behind("k", "h1"), None);
        memory.remember("k", "h1", "8", None);
        assert_eq!(
            memory.cache_behind("k", "h1"),
            None,
            "an event newer than the write"
        );
        memory.remember("k", "h1", "12", None);
        assert!(memory.cache_behind("k", "h1").is_some());
        memory.observe_all();
        assert_eq!(memory.cache_behind("k", "h1"), None);
        memory.remember("k", "h1", "not-a-number", None);
        assert_eq!(
            memory.cache_behind("k", "h1"),
            None,
            "opaque versions fall back to the cache"
        );
    }

    #[test]
    fn deletions_forget_old_writes_but_not_newer_ones() {
        let memory = AppliedMemory::default();
        memory.remember("k", "h1", "10", None);
        memory.deleted("k", "11");
        assert_eq!(memory.cache_behind("k", "h1"), None);
        assert!(!memory.unchanged_since_apply("k", "h1", "10"));
        memory.remember("k", "h1", "20", None);
        memory.deleted("k", "15");
        assert!(
            memory.cache_behind("k", "h1").is_some(),
            "our newer write is still in flight"
        );
        memory.observe("k", "20");
        assert_eq!(memory.cache_behind("k", "h1"), None);
    }

    #[test]
    fn applied_memory_matches_only_the_same_hash_and_version() {
        let memory = AppliedMemory::default();
        let key = memory_key("", "ConfigMap", "ns", "x");
        memory.remember(&key, "h1", "10", None);
        assert!(memory.unchanged_since_apply(&key, "h1", "10"));
        assert!(!memory.unchanged_since_apply(&key, "h1", "11"));
        assert!(!memory.unchanged_since_apply(&key, "h2", "10"));
        assert!(!memory.unchanged_since_apply(&memory_key("", "ConfigMap", "ns", "y"), "h1", "10"));
        // The same object watched at another version is the same key.
        assert_eq!(
            memory_key("autoscaling", "HorizontalPodAutoscaler", "ns", "a"),
            "autoscaling/HorizontalPodAutoscaler/ns/a"
        );
        memory.retain(|k| k != key);
        assert!(!memory.unchanged_since_apply(&key, "h1", "10"));
    }

    #[test]
    fn desired_hash_changes_with_content_and_is_stable() {
        let mut a = json!({"metadata": {"name": "x"}, "data": {"k": "1"}});
        let mut b = a.clone();
        let mut c = json!({"metadata": {"name": "x"}, "data": {"k": "2"}});
        add_desired_hash(&mut a);
        add_desired_hash(&mut b);
        add_desired_hash(&mut c);
        let hash = |v: &Value| v["metadata"]["annotations"][DESIRED_HASH_ANNOTATION].clone();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
        assert!(hash(&a).is_string());
    }

    #[test]
    fn api_errors_read_like_the_api_servers_message() {
        let status = |reason: &str| {
            kube::Error::Api(Box::new(kube::core::Status {
                code: 403,
                message: "configmaps \"x\" is forbidden".into(),
                reason: reason.into(),
                ..Default::default()
            }))
        };
        assert_eq!(
            api_error_text(&status("Forbidden")),
            "configmaps \"x\" is forbidden (403 Forbidden)"
        );
        assert_eq!(
            api_error_text(&status("")),
            "configmaps \"x\" is forbidden (403)"
        );
    }
}
