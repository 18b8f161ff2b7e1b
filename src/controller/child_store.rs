//! The cache of one child kind in one namespace scope: what comparisons need of live objects, indexed by owner.
//!
//! Thousands of children are cached, so each keeps only what a reconcile reads: its identity,
//! resourceVersion and ownership, its readiness (worked out once, when the watch delivers it),
//! and as compact JSON its metadata plus only the fields tera-operator's server-side apply owns
//! (see [`super::owned_fields`]) — no defaults, no status, no managedFields. A parsed
//! `serde_json::Value` tree takes five to six times the memory of its JSON text, so
//! [`CachedChild::to_value`] parses the text only when a reconcile compares the object; the
//! text is [`Packed`], so that what children of many resources have in common is kept once.
//! An index by owner uid makes "what does this resource own" independent of how many
//! children exist.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::{Arc, Mutex, RwLock};

use hashbrown::hash_table::{Entry, HashTable};
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::watcher;
use serde_json::{Map, Value};

use super::apply::{DESIRED_HASH_ANNOTATION, FIELD_MANAGER};
use super::interned::WORDS;
use super::owned_fields;
use super::packed::Packed;
use crate::render::OWNER_UID_LABEL;

/// The controller ownerReference of a cached child. Its apiVersion and kind are shared by
/// every child of the kind ([`WORDS`]), and its uid with the child's owner-uid label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerRef {
    /// apiVersion of the owner.
    pub(crate) api_version: Arc<str>,
    /// Kind of the owner.
    pub(crate) kind: Arc<str>,
    /// Name of the owner (same namespace as the child).
    pub(crate) name: Box<str>,
    /// uid of the owner.
    pub(crate) uid: Arc<str>,
}

/// One live child as the cache keeps it.
#[derive(Debug)]
pub(crate) struct CachedChild {
    /// Namespace (empty for cluster-scoped objects), shared ([`WORDS`]).
    pub(crate) namespace: Arc<str>,
    /// Name.
    pub(crate) name: Box<str>,
    /// uid, if the server set one.
    pub(crate) uid: Option<Box<str>>,
    /// resourceVersion, if the server set one.
    pub(crate) resource_version: Option<Box<str>>,
    /// Whether the object is being deleted.
    pub(crate) deleting: bool,
    /// The controller ownerReference, if any.
    pub(crate) controller: Option<ControllerRef>,
    /// Whether Helm's field managers still have managedFields entries (see [`super::handover`]).
    pub(crate) helm_fields: bool,
    /// `None` when ready, else why not (see [`super::status::child_readiness`]).
    pub(crate) not_ready: Option<Box<str>>,
    /// The owner-uid label, shared with the controller reference's uid when they are equal.
    owner_label: Option<Arc<str>>,
    /// The object without its status as compact JSON, packed (`None`: its content is not kept).
    json: Option<Packed>,
    /// Its status as compact JSON, kept apart: it differs between siblings (timestamps).
    status: Option<Box<str>>,
}

impl CachedChild {
    /// Caches `object`, keeping of its content only what comparisons need: its metadata
    /// (without managedFields, kubectl's last-applied annotation and the server-set fields
    /// kept apart or never compared) and the fields tera-operator's apply owns, plus its live
    /// status, which charts' status templates read; an object tera-operator never applied keeps
    /// all its fields.
    pub(crate) fn new(mut object: DynamicObject) -> Self {
        let managed = object.metadata.managed_fields.take();
        let helm_fields = super::handover::has_helm_entries(managed.as_deref());
        let not_ready = readiness(&mut object).err();
        if let Some(owned) = owned_fields::applied_fields(managed.as_deref(), FIELD_MANAGER)
            && let Some(data) = object.data.as_object_mut()
        {
            // Moved, not copied, into what is kept (a `null` is left in its place).
            let status = data.get_mut("status").map(Value::take);
            let mut kept: Map<String, Value> = std::mem::take(data)
                .into_iter()
                .filter_map(|(key, value)| {
                    let fields = owned.get(format!("f:{key}"))?;
                    Some((key, owned_fields::cut(value, fields)))
                })
                .collect();
            // Charts' status templates read their children's live status.
            if let Some(status) = status.filter(|status| !status.is_null()) {
                kept.insert("status".into(), status);
            }
            object.data = Value::Object(kept);
        }
        let mut child = Self::describe(&object);
        child.helm_fields = helm_fields;
        child.not_ready = not_ready.map(String::into_boxed_str);
        slim(&mut object);
        // Kept apart (uid, resourceVersion) or never compared.
        let metadata = &mut object.metadata;
        metadata.uid = None;
        metadata.resource_version = None;
        metadata.creation_timestamp = None;
        metadata.generation = None;
        // Serializing JSON values cannot fail.
        child.status = object
            .data
            .as_object_mut()
            .and_then(|data| data.remove("status"))
            .map(|status| {
                serde_json::to_string(&status)
                    .unwrap_or_default()
                    .into_boxed_str()
            });
        let text = compact(&object);
        child.json = Some(Packed::new(&text, &child.fills(&object)));
        child
    }

    /// The strings in which children of different resources differ besides their status:
    /// their names, namespace, owner and desired hash (see [`Packed`]).
    fn fills<'a>(&'a self, object: &'a DynamicObject) -> Vec<&'a str> {
        let mut fills = vec![&*self.name, &*self.namespace];
        if let Some(owner) = &self.controller {
            fills.extend([&*owner.name, &*owner.uid]);
        }
        fills.extend(self.owner_label.as_deref());
        fills.extend(
            object
                .metadata
                .annotations
                .iter()
                .flatten()
                .filter(|(key, _)| key.as_str() == DESIRED_HASH_ANNOTATION)
                .map(|(_, hash)| hash.as_str()),
        );
        fills
    }

    /// The looked-up fields of `object`, without its content.
    fn describe(object: &DynamicObject) -> Self {
        let metadata = &object.metadata;
        let controller = metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
            .map(|r| ControllerRef {
                api_version: WORDS.intern(&r.api_version),
                kind: WORDS.intern(&r.kind),
                name: r.name.as_str().into(),
                uid: r.uid.as_str().into(),
            });
        let owner_label = metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(OWNER_UID_LABEL))
            .map(|label| match &controller {
                Some(owner) if *owner.uid == **label => owner.uid.clone(),
                _ => Arc::from(label.as_str()),
            });
        Self {
            namespace: WORDS.intern(metadata.namespace.as_deref().unwrap_or_default()),
            name: metadata.name.as_deref().unwrap_or_default().into(),
            uid: metadata.uid.as_deref().map(Box::from),
            resource_version: metadata.resource_version.as_deref().map(Box::from),
            deleting: metadata.deletion_timestamp.is_some(),
            controller,
            helm_fields: false,
            not_ready: None,
            owner_label,
            json: None,
            status: None,
        }
    }

    /// Whether the custom resource with `uid` owns this child: the child carries the owner-uid
    /// label **and** a controller ownerReference to that uid. Only such objects are ever pruned.
    pub(crate) fn is_owned_by(&self, uid: &str) -> bool {
        self.owner_label.as_deref() == Some(uid)
            && self.controller.as_ref().is_some_and(|r| *r.uid == *uid)
    }

    /// Who holds this child: the uid of its controller ownerReference, else of its owner-uid
    /// label (`None`: nobody we know).
    pub(crate) fn holder(&self) -> Option<&str> {
        match &self.controller {
            Some(reference) => Some(&*reference.uid),
            None => self.owner_label.as_deref().filter(|uid| !uid.is_empty()),
        }
    }

    /// Whether this child is the custom resource `uid`'s to apply: its controller
    /// ownerReference names `uid`, or it has none and its owner-uid label does (applying
    /// restores the reference). Anything else is decided by [`super::adopt::decide`].
    pub(crate) fn is_held_by(&self, uid: &str) -> bool {
        match &self.controller {
            Some(reference) => *reference.uid == *uid,
            None => self.owner_label.as_deref() == Some(uid),
        }
    }

    /// The cached object as JSON (parsed on each call): its metadata and the fields our apply
    /// owns (see [`CachedChild::new`]).
    pub(crate) fn to_value(&self) -> Value {
        let Some(json) = &self.json else {
            return Value::Null;
        };
        let mut value = serde_json::from_str(&json.expand()).unwrap_or(Value::Null);
        if let (Value::Object(map), Some(status)) = (&mut value, &self.status)
            && let Ok(status) = serde_json::from_str(status)
        {
            map.insert("status".into(), status);
        }
        value
    }
}

/// `object` as compact JSON, as `serde_json::to_string` writes it, without the buffering that
/// its flattened fields cost serde (a share of caching each watched object).
fn compact(object: &DynamicObject) -> String {
    let Value::Object(data) = &object.data else {
        return serde_json::to_string(object).unwrap_or_default();
    };
    // Writing into memory cannot fail, nor can serializing strings, metadata and JSON values.
    fn field<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) {
        if out.len() > 1 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, value);
    }
    let mut out = Vec::with_capacity(1024);
    out.push(b'{');
    if let Some(types) = &object.types {
        field(&mut out, "apiVersion", &types.api_version);
        field(&mut out, "kind", &types.kind);
    }
    field(&mut out, "metadata", &object.metadata);
    for (key, value) in data {
        field(&mut out, key, value);
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

/// The readiness of `object` (see [`super::status::child_readiness`]), from what it reads: the
/// kind, the generation, spec and status. The spec and status are moved into the view it reads
/// and back, not copied.
fn readiness(object: &mut DynamicObject) -> Result<(), String> {
    let mut take = |key: &str| object.data.get_mut(key).map_or(Value::Null, Value::take);
    let (spec, status) = (take("spec"), take("status"));
    let mut view = Map::new();
    view.insert(
        "kind".into(),
        object
            .types
            .as_ref()
            .map_or(Value::Null, |t| Value::String(t.kind.clone())),
    );
    view.insert(
        "metadata".into(),
        serde_json::json!({"generation": object.metadata.generation}),
    );
    view.insert("spec".into(), spec);
    view.insert("status".into(), status);
    let mut view = Value::Object(view);
    let readiness = super::status::child_readiness(&view);
    for key in ["spec", "status"] {
        if let Some(slot) = object.data.get_mut(key) {
            *slot = view[key].take();
        }
    }
    readiness
}

/// Drops managedFields and kubectl's last-applied annotation from a watched object.
pub(crate) fn slim(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The cached objects, by namespace and name and by owner. Neither table copies a key: each
/// hashes and compares the strings its children hold (with 10,000 resources, 30,000 children).
#[derive(Default)]
struct Index {
    /// Every object, hashed by its namespace and name.
    objects: HashTable<Arc<CachedChild>>,
    /// The objects by the value of their owner-uid label, hashed by it: each group is non-empty
    /// and its members share the label (a resource owns one or a few of each kind: a list is
    /// smaller than a set of keys).
    by_owner: HashTable<Vec<Arc<CachedChild>>>,
    hasher: RandomState,
}

/// The owner-uid label the members of a group of [`Index::by_owner`] share.
fn group_owner(group: &[Arc<CachedChild>]) -> Option<&str> {
    group.first()?.owner_label.as_deref()
}

impl Index {
    fn identity_hash(&self, namespace: &str, name: &str) -> u64 {
        self.hasher.hash_one((namespace, name))
    }

    fn owner_hash(&self, owner: &str) -> u64 {
        self.hasher.hash_one(owner)
    }

    fn get(&self, namespace: &str, name: &str) -> Option<&Arc<CachedChild>> {
        self.objects
            .find(self.identity_hash(namespace, name), |child| {
                *child.namespace == *namespace && *child.name == *name
            })
    }

    fn owned_by(&self, owner: &str) -> &[Arc<CachedChild>] {
        self.by_owner
            .find(self.owner_hash(owner), |group| {
                group_owner(group) == Some(owner)
            })
            .map_or(&[], Vec::as_slice)
    }

    fn insert(&mut self, child: Arc<CachedChild>) {
        self.remove(&child.namespace, &child.name);
        if let Some(owner) = child.owner_label.as_deref() {
            let hash = self.owner_hash(owner);
            let hasher = &self.hasher;
            match self.by_owner.entry(
                hash,
                |group| group_owner(group) == Some(owner),
                |group| group_owner(group).map_or(0, |o| hasher.hash_one(o)),
            ) {
                Entry::Occupied(mut group) => group.get_mut().push(child.clone()),
                Entry::Vacant(vacant) => {
                    vacant.insert(vec![child.clone()]);
                }
            }
        }
        let hash = self.identity_hash(&child.namespace, &child.name);
        let hasher = &self.hasher;
        self.objects.insert_unique(hash, child, |child| {
            hasher.hash_one((&*child.namespace, &*child.name))
        });
    }

    fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<CachedChild>> {
        let hash = self.identity_hash(namespace, name);
        let old = self
            .objects
            .find_entry(hash, |child| {
                *child.namespace == *namespace && *child.name == *name
            })
            .ok()?
            .remove()
            .0;
        if let Some(owner) = old.owner_label.as_deref()
            && let Ok(mut group) = self.by_owner.find_entry(self.owner_hash(owner), |group| {
                group_owner(group) == Some(owner)
            })
        {
            group.get_mut().retain(|child| !Arc::ptr_eq(child, &old));
            if group.get().is_empty() {
                group.remove();
            }
        }
        Some(old)
    }
}

/// The API server's refusal of a child watch's list: a status code (401, 403 or 404) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The HTTP status code.
    pub(crate) code: u16,
    /// The API server's message.
    pub(crate) message: String,
}

/// The refusal in a watch error, if it is one that retrying will not fix by itself: the kind
/// is not served (404), or the operator may not list or watch it (401, 403).
pub(crate) fn refusal(error: &watcher::Error) -> Option<Refusal> {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status,
        watcher::Error::WatchError(status) => status,
        _ => return None,
    };
    matches!(status.code, 401 | 403 | 404).then(|| Refusal {
        code: status.code,
        message: status.message.clone(),
    })
}

/// How far a store is from holding the first list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sync {
    /// Not listed yet.
    Pending,
    /// Listed at least once.
    Synced,
    /// The list was refused before it ever succeeded.
    Refused(Refusal),
}

/// The cached children of one kind in one namespace scope, fed by a watch.
pub(crate) struct ChildStore {
    index: RwLock<Index>,
    synced: tokio::sync::watch::Sender<Sync>,
}

impl Default for ChildStore {
    fn default() -> Self {
        Self {
            index: RwLock::default(),
            synced: tokio::sync::watch::Sender::new(Sync::Pending),
        }
    }
}

impl ChildStore {
    /// The cached object `namespace/name`, if any.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<CachedChild>> {
        let index = self.index.read().ok()?;
        index.get(namespace, name).cloned()
    }

    /// Every cached object owned by `uid` (see [`CachedChild::is_owned_by`]).
    pub(crate) fn owned_by(&self, uid: &str) -> Vec<Arc<CachedChild>> {
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        index
            .owned_by(uid)
            .iter()
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
        let child = Arc::new(CachedChild::describe(&object));
        if let Ok(mut index) = self.index.write() {
            index.remove(&child.namespace, &child.name);
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
                    .filter(|child| index.get(&child.namespace, &child.name).is_none())
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        self.synced.send_replace(Sync::Synced);
        gone
    }

    /// The watch failed with `error`; if it is a [`refusal`] before the first list, waiters of
    /// [`ChildStore::wait_synced`] hear about it at once instead of at their timeout.
    pub(crate) fn watch_failed(&self, error: &watcher::Error) {
        if let Some(refusal) = refusal(error) {
            self.synced.send_if_modified(|state| match state {
                Sync::Synced => false,
                _ => {
                    *state = Sync::Refused(refusal);
                    true
                }
            });
        }
    }

    /// Waits until the first list has been cached, at most `timeout`. `Err(Some(_))`: the API
    /// server refused the list (see [`refusal`]); `Err(None)`: it timed out.
    pub(crate) async fn wait_synced(&self, timeout: Duration) -> Result<(), Option<Refusal>> {
        let mut synced = self.synced.subscribe();
        let waited = tokio::time::timeout(
            timeout,
            synced.wait_for(|state| !matches!(state, Sync::Pending)),
        )
        .await;
        match waited {
            Ok(Ok(state)) => match &*state {
                Sync::Refused(refusal) => Err(Some(refusal.clone())),
                _ => Ok(()),
            },
            _ => Err(None),
        }
    }
}

/// A child's identity: group, kind, namespace and name — never its apiVersion, since one object
/// is served at every version of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ChildId {
    /// API group (empty for the core group).
    pub(crate) group: String,
    /// Kind.
    pub(crate) kind: String,
    /// Namespace (empty for cluster-scoped objects).
    pub(crate) namespace: String,
    /// Name.
    pub(crate) name: String,
}

impl ChildId {
    /// The identity of an object of `api_version` (`group/version`, or `version` for the core
    /// group) and `kind`.
    pub(crate) fn new(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: api_version
                .rsplit_once('/')
                .map_or("", |(group, _)| group)
                .to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// A custom resource waiting for a child another resource holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// `group/Kind` of the waiting resource (the key its controller is routed by).
    pub(crate) owner_kind: String,
    /// Name of the waiting resource (in the child's namespace).
    pub(crate) name: String,
    /// Who held the child when the wait began (see [`CachedChild::holder`]).
    pub(crate) holder: Option<String>,
}

/// Resources refused a child because another resource holds it; each is woken (once) when the
/// child is deleted or changes hands, so it takes the child on without waiting for a resync.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    waiting: Mutex<HashMap<ChildId, Vec<Waiter>>>,
}

impl Waiters {
    /// Registers `waiter` for `child` (once, however often it is refused).
    pub(crate) fn wait(&self, child: ChildId, waiter: Waiter) {
        if let Ok(mut waiting) = self.waiting.lock() {
            let list = waiting.entry(child).or_default();
            if !list.contains(&waiter) {
                list.push(waiter);
            }
        }
    }

    /// The waiters to wake after a watch event for `child` of `group`/`kind`: all of them if it
    /// was `deleted`, else those whose holder is no longer its holder. They are forgotten.
    pub(crate) fn woken(
        &self,
        group: &str,
        kind: &str,
        child: &CachedChild,
        deleted: bool,
    ) -> Vec<Waiter> {
        let Ok(mut waiting) = self.waiting.lock() else {
            return Vec::new();
        };
        if waiting.is_empty() {
            return Vec::new();
        }
        let id = ChildId {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: child.namespace.to_string(),
            name: child.name.to_string(),
        };
        let Some(list) = waiting.remove(&id) else {
            return Vec::new();
        };
        let holder = child.holder();
        let (woken, still): (Vec<Waiter>, Vec<Waiter>) = list
            .into_iter()
            .partition(|w| deleted || w.holder.as_deref() != holder);
        if !still.is_empty() {
            waiting.insert(id, still);
        }
        woken
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
    fn compact_text_is_what_serde_writes() {
        let mut with_types = object("s", json!({"a": "b\"c"}), json!([owner_ref("u1", true)]));
        assert_eq!(
            compact(&with_types),
            serde_json::to_string(&with_types).unwrap_or_default()
        );
        with_types.types = None;
        assert_eq!(
            compact(&with_types),
            serde_json::to_string(&with_types).unwrap_or_default()
        );
        let deployment = deployment(1);
        assert_eq!(
            compact(&deployment),
            serde_json::to_string(&deployment).unwrap_or_default()
        );
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
    fn siblings_share_their_namespace_owner_kind_and_owner_uid() {
        let labelled = json!({OWNER_UID_LABEL: "u1"});
        let a = CachedChild::new(object(
            "a",
            labelled.clone(),
            json!([owner_ref("u1", true)]),
        ));
        let b = CachedChild::new(object("b", labelled, json!([owner_ref("u1", true)])));
        let (Some(ra), Some(rb)) = (&a.controller, &b.controller) else {
            panic!("both have a controller reference");
        };
        assert!(Arc::ptr_eq(&a.namespace, &b.namespace));
        assert!(Arc::ptr_eq(&ra.kind, &rb.kind));
        assert!(Arc::ptr_eq(&ra.api_version, &rb.api_version));
        // One copy of the uid for the reference and the label of a child.
        assert!(
            a.owner_label
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(l, &ra.uid))
        );
        assert!(a.is_owned_by("u1") && b.is_owned_by("u1"));
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
        assert_eq!(child.controller.as_ref().map(|r| &*r.name), Some("hello"));
    }

    fn deployment(available: i64) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "ns", "uid": "d1", "resourceVersion": "9",
                "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web"},
                "managedFields": [
                    {"manager": "tera-operator", "operation": "Apply", "apiVersion": "apps/v1",
                     "fieldsType": "FieldsV1", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {}}
                        }}}}
                    }},
                    {"manager": "kube-controller-manager", "operation": "Update",
                     "subresource": "status", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:status": {"f:replicas": {}}}}
                ]
            },
            "spec": {"replicas": 1, "revisionHistoryLimit": 10, "template": {"spec": {
                "containers": [{"name": "web", "image": "nginx:1.28",
                                "imagePullPolicy": "IfNotPresent"}],
                "dnsPolicy": "ClusterFirst"}}},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": available,
                       "conditions": [{"type": "Available", "status": "True"}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn applied_objects_keep_only_their_owned_fields_status_and_readiness() {
        let child = CachedChild::new(deployment(1));
        assert_eq!(
            child.to_value(),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.28"}
                ]}}},
                // Whole, for status templates.
                "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                           "availableReplicas": 1,
                           "conditions": [{"type": "Available", "status": "True"}]}
            })
        );
        assert_eq!(child.not_ready, None);
        assert_eq!(child.resource_version.as_deref(), Some("9"));
        assert_eq!(child.uid.as_deref(), Some("d1"));
        let waiting = CachedChild::new(deployment(0));
        assert_eq!(
            waiting.not_ready.as_deref(),
            Some("0 of 1 replicas available, 1 updated")
        );
        // What a chart renders still matches; a changed image does not.
        let rendered = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.28"}]}}}});
        assert!(super::super::apply::matches_live(
            &rendered,
            &child.to_value()
        ));
        let mut changed = rendered.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.29");
        assert!(!super::super::apply::matches_live(
            &changed,
            &child.to_value()
        ));
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
            let mut names: Vec<String> = store
                .owned_by(uid)
                .iter()
                .map(|c| c.name.to_string())
                .collect();
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
        // An owner with no children left has no group left.
        assert_eq!(store.index.read().unwrap().by_owner.len(), 1);
        assert!(store.get("ns", "a").is_none());
        assert!(store.get("ns", "c").is_some());
        let gone = store.replace_all(vec![CachedChild::new(mine("d"))]);
        let mut gone: Vec<String> = gone.iter().map(|c| c.name.to_string()).collect();
        gone.sort();
        assert_eq!(gone, ["b", "c"]);
        assert_eq!(names("u1"), ["d"]);
        assert_eq!(store.index.read().unwrap().objects.len(), 1);
    }

    #[tokio::test]
    async fn synced_after_the_first_list() {
        let store = ChildStore::default();
        assert_eq!(
            store.wait_synced(Duration::from_millis(20)).await,
            Err(None)
        );
        store.replace_all(Vec::new());
        assert_eq!(store.wait_synced(Duration::from_millis(20)).await, Ok(()));
        assert!(store.index.read().unwrap().objects.is_empty());
    }

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: format!("code {code}"),
            ..Default::default()
        }))
    }

    #[tokio::test]
    async fn a_refused_list_ends_the_wait_at_once() {
        let store = ChildStore::default();
        // A server error may pass: the wait goes on (here until its timeout).
        store.watch_failed(&watcher::Error::InitialListFailed(api_error(500)));
        assert_eq!(
            store.wait_synced(Duration::from_millis(20)).await,
            Err(None)
        );
        store.watch_failed(&watcher::Error::InitialListFailed(api_error(403)));
        let refused = store.wait_synced(Duration::from_secs(60)).await;
        assert_eq!(
            refused,
            Err(Some(Refusal {
                code: 403,
                message: "code 403".into()
            }))
        );
        // A list that succeeds afterwards wins, and a later refusal does not undo it.
        store.replace_all(Vec::new());
        store.watch_failed(&watcher::Error::WatchStartFailed(api_error(404)));
        assert_eq!(store.wait_synced(Duration::from_millis(20)).await, Ok(()));
        assert_eq!(refusal(&watcher::Error::NoResourceVersion), None);
        assert_eq!(
            refusal(&watcher::Error::WatchFailed(api_error(404))).map(|r| r.code),
            Some(404)
        );
    }

    #[test]
    fn holders_are_the_controller_else_the_owner_label() {
        let child = |labels, owners| CachedChild::new(object("s", labels, owners));
        let both = child(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u2", true)]),
        );
        assert_eq!(both.holder(), Some("u2"));
        assert!(both.is_held_by("u2"));
        assert!(
            !both.is_held_by("u1"),
            "a label does not beat the controller"
        );
        let label_only = child(json!({OWNER_UID_LABEL: "u1"}), json!([]));
        assert_eq!(label_only.holder(), Some("u1"));
        assert!(label_only.is_held_by("u1"));
        let nobody = child(json!({}), json!([owner_ref("u1", false)]));
        assert_eq!(nobody.holder(), None);
        assert!(!nobody.is_held_by("u1"));
    }

    #[test]
    fn identities_ignore_the_version() {
        assert_eq!(
            ChildId::new("autoscaling/v1", "HorizontalPodAutoscaler", "ns", "a"),
            ChildId::new("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "a")
        );
        let core = ChildId::new("v1", "Service", "ns", "a");
        assert_eq!(core.group, "");
        assert_ne!(core, ChildId::new("v1", "ConfigMap", "ns", "a"));
    }

    #[test]
    fn waiters_wake_once_when_the_child_is_freed() {
        let waiters = Waiters::default();
        let id = ChildId::new("v1", "Service", "ns", "s");
        let waiter = Waiter {
            owner_kind: "web.tera-operator.io/Balancer".into(),
            name: "shop".into(),
            holder: Some("u1".into()),
        };
        waiters.wait(id.clone(), waiter.clone());
        waiters.wait(id.clone(), waiter.clone());
        let held = CachedChild::new(object(
            "s",
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u1", true)]),
        ));
        // Still held by the same owner (a status change, say): nobody wakes.
        assert!(waiters.woken("", "Service", &held, false).is_empty());
        // Another kind or name: nobody wakes.
        assert!(waiters.woken("", "ConfigMap", &held, false).is_empty());
        // Deleted: the waiter wakes, once.
        assert_eq!(
            waiters.woken("", "Service", &held, true),
            std::slice::from_ref(&waiter)
        );
        assert!(waiters.woken("", "Service", &held, true).is_empty());
        // Changed hands (its ownerReference removed): the waiter wakes.
        waiters.wait(id, waiter.clone());
        let orphaned = CachedChild::new(object("s", json!({}), json!([])));
        assert_eq!(waiters.woken("", "Service", &orphaned, false), [waiter]);
    }
}
