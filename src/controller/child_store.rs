//! The cache of one child kind in one namespace scope: live objects as compact JSON, indexed by owner.
//!
//! A parsed `serde_json::Value` tree takes five to six times the memory of the JSON text it
//! came from, and thousands of children are cached, so each object is kept as its compact JSON
//! (without managedFields) beside the few fields reconciles look up on every pass: name,
//! resourceVersion and ownership. [`CachedChild::to_value`] parses the text only when a
//! reconcile compares the object. An index by owner uid makes "what does this resource own"
//! independent of how many children exist.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;

use crate::render::OWNER_UID_LABEL;

/// The controller ownerReference of a cached child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerRef {
    /// apiVersion of the owner.
    pub(crate) api_version: String,
    /// Kind of the owner.
    pub(crate) kind: String,
    /// Name of the owner (same namespace as the child).
    pub(crate) name: String,
    /// uid of the owner.
    pub(crate) uid: String,
}

/// One live child as the cache keeps it.
#[derive(Debug)]
pub(crate) struct CachedChild {
    /// Namespace (empty for cluster-scoped objects).
    pub(crate) namespace: String,
    /// Name.
    pub(crate) name: String,
    /// uid, if the server set one.
    pub(crate) uid: Option<String>,
    /// resourceVersion, if the server set one.
    pub(crate) resource_version: Option<String>,
    /// Whether the object is being deleted.
    pub(crate) deleting: bool,
    /// The controller ownerReference, if any.
    pub(crate) controller: Option<ControllerRef>,
    owner_label: Option<String>,
    json: Box<str>,
}

impl CachedChild {
    /// Caches `object`, dropping what no comparison needs: managedFields and kubectl's
    /// last-applied annotation (rendered objects never set either).
    pub(crate) fn new(mut object: DynamicObject) -> Self {
        slim(&mut object);
        // Serializing a DynamicObject cannot fail: its data is already JSON.
        let json = serde_json::to_string(&object).unwrap_or_default();
        Self::describe(&object, json.into_boxed_str())
    }

    /// The looked-up fields of `object`, with `json` as its content.
    fn describe(object: &DynamicObject, json: Box<str>) -> Self {
        let metadata = &object.metadata;
        let controller = metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
            .map(|r| ControllerRef {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
            });
        Self {
            namespace: metadata.namespace.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
            uid: metadata.uid.clone(),
            resource_version: metadata.resource_version.clone(),
            deleting: metadata.deletion_timestamp.is_some(),
            controller,
            owner_label: metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(OWNER_UID_LABEL))
                .cloned(),
            json,
        }
    }

    /// Whether the custom resource with `uid` owns this child: the child carries the owner-uid
    /// label **and** a controller ownerReference to that uid. Only such objects are ever pruned.
    pub(crate) fn is_owned_by(&self, uid: &str) -> bool {
        self.owner_label.as_deref() == Some(uid)
            && self.controller.as_ref().is_some_and(|r| r.uid == uid)
    }

    /// The whole cached object as JSON (parsed on each call).
    pub(crate) fn to_value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// Drops managedFields and kubectl's last-applied annotation from a watched object.
pub(crate) fn slim(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

type Key = (String, String);

#[derive(Default)]
struct Index {
    objects: HashMap<Key, Arc<CachedChild>>,
    /// Keys of objects by the value of their owner-uid label.
    by_owner: HashMap<String, HashSet<Key>>,
}

impl Index {
    fn insert(&mut self, child: Arc<CachedChild>) {
        let key = (child.namespace.clone(), child.name.clone());
        self.remove(&key);
        if let Some(owner) = &child.owner_label {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .insert(key.clone());
        }
        self.objects.insert(key, child);
    }

    fn remove(&mut self, key: &Key) -> Option<Arc<CachedChild>> {
        let old = self.objects.remove(key)?;
        if let Some(owner) = &old.owner_label
            && let Some(keys) = self.by_owner.get_mut(owner)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(owner);
            }
        }
        Some(old)
    }
}

/// The cached children of one kind in one namespace scope, fed by a watch.
pub(crate) struct ChildStore {
    index: RwLock<Index>,
    synced: tokio::sync::watch::Sender<bool>,
}

impl Default for ChildStore {
    fn default() -> Self {
        Self {
            index: RwLock::default(),
            synced: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl ChildStore {
    /// The cached object `namespace/name`, if any.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<CachedChild>> {
        let index = self.index.read().ok()?;
        index
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Every cached object owned by `uid` (see [`CachedChild::is_owned_by`]).
    pub(crate) fn owned_by(&self, uid: &str) -> Vec<Arc<CachedChild>> {
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        index
            .by_owner
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|key| index.objects.get(key))
            .filter(|child| child.is_owned_by(uid))
            .cloned()
            .collect()
    }

    /// Caches an added or modified object; returns it as cached.
    pub(crate) fn apply(&self, object: DynamicObject) -> Arc<CachedChild> {
        let child = Arc::new(CachedChild::new(object));
        if let Ok(mut index) = self.index.write() {
            index.insert(child.clone());
        }
        child
    }

    /// Forgets a deleted object; returns its identity and final resourceVersion (its content,
    /// never compared again, is not kept).
    pub(crate) fn delete(&self, object: DynamicObject) -> Arc<CachedChild> {
        let child = Arc::new(CachedChild::describe(&object, Box::default()));
        if let Ok(mut index) = self.index.write() {
            index.remove(&(child.namespace.clone(), child.name.clone()));
        }
        child
    }

    /// Replaces everything with the result of a (re)list and marks the store synced; returns the
    /// objects that were cached before but are not listed any more (deleted while unwatched).
    pub(crate) fn replace_all(&self, listed: Vec<CachedChild>) -> Vec<Arc<CachedChild>> {
        let mut fresh = Index::default();
        for child in listed {
            fresh.insert(Arc::new(child));
        }
        let gone = match self.index.write() {
            Ok(mut index) => {
                let old = std::mem::replace(&mut *index, fresh);
                old.objects
                    .into_iter()
                    .filter(|(key, _)| !index.objects.contains_key(key))
                    .map(|(_, child)| child)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        self.synced.send_replace(true);
        gone
    }

    /// Waits until the first list has been cached, at most `timeout`; returns whether it was.
    pub(crate) async fn wait_synced(&self, timeout: Duration) -> bool {
        let mut synced = self.synced.subscribe();
        matches!(
            tokio::time::timeout(timeout, synced.wait_for(|done| *done)).await,
            Ok(Ok(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str, labels: Value, owners: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "ns", "labels": labels,
                         "ownerReferences": owners, "resourceVersion": "7",
                         "managedFields": [{"manager": "x"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                         "keep": "me"}},
            "spec": {"ports": [{"port": 80}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn owner_ref(uid: &str, controller: bool) -> Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
               "name": "hello", "uid": uid, "controller": controller})
    }

    #[test]
    fn owned_needs_label_and_controller_reference() {
        let owned = |labels, owners| CachedChild::new(object("s", labels, owners));
        let both = owned(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u1", true)]),
        );
        assert!(both.is_owned_by("u1"));
        assert!(!both.is_owned_by("u2"));
        assert!(!owned(json!({OWNER_UID_LABEL: "u1"}), json!([])).is_owned_by("u1"));
        assert!(!owned(json!({}), json!([owner_ref("u1", true)])).is_owned_by("u1"));
        let not_controller = owned(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u1", false)]),
        );
        assert!(!not_controller.is_owned_by("u1"));
        let other_ref = owned(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u2", true)]),
        );
        assert!(!other_ref.is_owned_by("u1"));
    }

    #[test]
    fn cached_objects_keep_content_but_not_managed_fields() {
        let child = CachedChild::new(object("s", json!({}), json!([owner_ref("u1", true)])));
        let value = child.to_value();
        assert_eq!(value["spec"]["ports"][0]["port"], 80);
        assert_eq!(value["kind"], "Service");
        assert_eq!(value["metadata"]["annotations"], json!({"keep": "me"}));
        assert!(value["metadata"].get("managedFields").is_none());
        assert_eq!(child.resource_version.as_deref(), Some("7"));
        assert_eq!(
            child.controller.as_ref().map(|r| r.name.as_str()),
            Some("hello")
        );
    }

    #[test]
    fn the_owner_index_follows_applies_deletes_and_relists() {
        let store = ChildStore::default();
        let mine = |name: &str| {
            object(
                name,
                json!({OWNER_UID_LABEL: "u1"}),
                json!([owner_ref("u1", true)]),
            )
        };
        store.apply(mine("a"));
        store.apply(mine("b"));
        store.apply(object(
            "c",
            json!({OWNER_UID_LABEL: "u2"}),
            json!([owner_ref("u2", true)]),
        ));
        let names = |uid: &str| {
            let mut names: Vec<String> =
                store.owned_by(uid).iter().map(|c| c.name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(names("u1"), ["a", "b"]);
        // Relabelled to another owner: it moves in the index.
        store.apply(object(
            "b",
            json!({OWNER_UID_LABEL: "u2"}),
            json!([owner_ref("u2", true)]),
        ));
        assert_eq!(names("u1"), ["a"]);
        assert_eq!(names("u2"), ["b", "c"]);
        store.delete(mine("a"));
        assert!(names("u1").is_empty());
        assert!(store.get("ns", "a").is_none());
        assert!(store.get("ns", "c").is_some());
        let gone = store.replace_all(vec![CachedChild::new(mine("d"))]);
        let mut gone: Vec<String> = gone.iter().map(|c| c.name.clone()).collect();
        gone.sort();
        assert_eq!(gone, ["b", "c"]);
        assert_eq!(names("u1"), ["d"]);
        assert_eq!(store.index.read().unwrap().objects.len(), 1);
    }

    #[tokio::test]
    async fn synced_after_the_first_list() {
        let store = ChildStore::default();
        assert!(!store.wait_synced(Duration::from_millis(20)).await);
        store.replace_all(Vec::new());
        assert!(store.wait_synced(Duration::from_millis(20)).await);
        assert!(store.index.read().unwrap().objects.is_empty());
    }
}
