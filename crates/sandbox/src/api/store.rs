//! The object store: JSON objects per resource, one global resourceVersion, a change history for watches.
//!
//! Changes are broadcast twice: to every subscriber of all changes (the simulation) and to the
//! subscribers of the one resource they concern, as kube-apiserver's watch cache dispatches per
//! resource type, so a watch of one resource never falls behind because of another's traffic.
//! An object's current version and the history share one allocation (`Arc`); a version a later
//! change superseded is kept in the history as compact JSON text, a fraction of the parsed
//! tree's memory (watches resuming from the past and paged lists parse it again). A version is
//! written as text at most once: the watches that send it and the history share the text.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::api::resources::{CRD_STORAGE, Registry, crd_storage};

/// How many changes a subscriber may fall behind before it is told it lagged (and a watch ends).
const CHANNEL_CAPACITY: usize = 16 * 1024;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

/// One committed change, as watches see it (objects in storage form).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The resourceVersion of the change.
    pub(crate) rv: u64,
    /// The storage key of the resource.
    pub(crate) storage: String,
    /// What happened.
    pub(crate) kind: ChangeType,
    /// The object after the change (or as deleted).
    pub(crate) object: Arc<Value>,
    /// The object before the change (for `Modified` and `Deleted`).
    pub(crate) old: Option<Arc<Value>>,
    /// `object` as compact JSON text, written once (see [`Text`]).
    pub(crate) text: Text,
}

impl Change {
    /// `object` as compact JSON text (`serde_json::to_vec`): written by the first that asks
    /// (a watch sending it, or the history packing it once a later change supersedes it) and
    /// shared by the others.
    pub(crate) fn object_text(&self) -> Arc<[u8]> {
        text_of(&self.text, &self.object)
    }
}

/// The compact JSON text of one version of an object, written at most once: every watch of
/// the version's storage form sends it, and the history keeps it once a later change
/// supersedes the version, so one serialization serves them all.
pub(crate) type Text = Arc<OnceLock<Arc<[u8]>>>;

/// The text in `cell`, written from `object` if it is not yet.
fn text_of(cell: &OnceLock<Arc<[u8]>>, object: &Value) -> Arc<[u8]> {
    cell.get_or_init(|| to_text(object)).clone()
}

/// `serde_json::to_vec(object)` (empty if it fails), in an allocation of its size: written
/// into a buffer the thread keeps, so the text is not grown by doubling (each growth a copy)
/// and then copied again into the `Arc`.
fn to_text(object: &Value) -> Arc<[u8]> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| {
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            return serde_json::to_vec(object).unwrap_or_default().into();
        };
        buffer.clear();
        let text: Arc<[u8]> = match serde_json::to_writer(&mut *buffer, object) {
            Ok(()) => Arc::from(&buffer[..]),
            Err(_) => Arc::from(&[][..]),
        };
        // A rare huge object does not stay allocated for the thread's lifetime.
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        text
    })
}

/// A version of an object as the history keeps it: shared with the store (and with the watches
/// being told of it) while it is current, compact JSON text once a later change superseded it.
/// A parsed tree of a Deployment with its managedFields takes several times its text: at
/// 10,000 resources and their 30,000 children the history of a few minutes held gigabytes.
#[derive(Debug, Clone)]
enum Version {
    /// The current version, with its text once something wrote it.
    Shared(Arc<Value>, Text),
    Packed(Arc<[u8]>),
}

impl Version {
    fn packed(object: &Value) -> Self {
        Version::Packed(to_text(object))
    }

    /// The version's text, written now unless a watch sending it already did.
    fn text(&self) -> Arc<[u8]> {
        match self {
            Version::Shared(object, text) => text_of(text, object),
            Version::Packed(text) => text.clone(),
        }
    }

    /// The object: borrowed, or parsed from its text (which `serde_json` wrote from a
    /// `Value`, so it parses back to the same one).
    fn get(&self) -> Cow<'_, Value> {
        match self {
            Version::Shared(object, _) => Cow::Borrowed(object),
            Version::Packed(text) => {
                Cow::Owned(serde_json::from_slice(text).unwrap_or(Value::Null))
            }
        }
    }

    fn shared(&self) -> Arc<Value> {
        match self {
            Version::Shared(object, _) => object.clone(),
            Version::Packed(_) => Arc::new(self.get().into_owned()),
        }
    }
}

/// One change as the history keeps it (see [`Version`]).
#[derive(Debug)]
struct Recorded {
    rv: u64,
    storage: String,
    key: Key,
    kind: ChangeType,
    object: Version,
    old: Option<Version>,
}

impl Recorded {
    /// The change as watches see it.
    fn change(&self) -> Arc<Change> {
        Arc::new(Change {
            rv: self.rv,
            storage: self.storage.clone(),
            kind: self.kind,
            object: self.object.shared(),
            old: self.old.as_ref().map(Version::shared),
            text: match &self.object {
                Version::Shared(_, text) => text.clone(),
                Version::Packed(text) => Arc::new(OnceLock::from(text.clone())),
            },
        })
    }
}

/// A key within one resource: `(namespace, name)`; namespace is empty for cluster-scoped objects.
pub(crate) type Key = (String, String);

/// The store: every object, the registry of served types, the change history.
#[derive(Debug)]
pub(crate) struct Store {
    rv: u64,
    /// Objects are shared with the change history: a write stores one copy, not two.
    objects: HashMap<String, BTreeMap<Key, Arc<Value>>>,
    /// Keys of the objects of a storage whose controller (the ownerReference with
    /// `controller: true`) has a uid: what kube-controller-manager's informer indexes give the
    /// workload controllers, so finding a ReplicaSet's Pods does not scan the namespace.
    controlled: HashMap<(String, String), BTreeSet<Key>>,
    history: VecDeque<(Instant, Recorded)>,
    history_limit: usize,
    history_window: Option<Duration>,
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
    /// One channel per storage key with subscribers (see [`Store::subscribe_to`]).
    channels: HashMap<String, broadcast::Sender<Arc<Change>>>,
    /// The served types (built-ins and CRDs).
    pub(crate) registry: Registry,
    /// Cluster IPs handed out to Services.
    pub(crate) next_cluster_ip: u32,
}

/// The uid of an object's controller: its ownerReference with `controller: true`.
fn controller_uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?["uid"]
        .as_str()
}

/// The namespace and name of an object.
pub(crate) fn key_of(obj: &Value) -> Key {
    let m = &obj["metadata"];
    (
        m["namespace"].as_str().unwrap_or_default().to_string(),
        m["name"].as_str().unwrap_or_default().to_string(),
    )
}

impl Store {
    /// An empty store keeping `history_limit` changes for watches to resume from.
    pub(crate) fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            rv: 1,
            objects: HashMap::new(),
            controlled: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            history_window: None,
            compacted: 0,
            tx,
            channels: HashMap::new(),
            registry: Registry::default(),
            next_cluster_ip: 1,
        }
    }

    /// Also expires changes older than `window`, as the API server's periodic etcd compaction
    /// does (`--etcd-compaction-interval`, 5 minutes by default).
    pub(crate) fn with_history_window(mut self, window: Duration) -> Self {
        self.history_window = Some(window);
        self
    }

    /// The current resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion the history still reaches back to.
    pub(crate) fn compacted(&self) -> u64 {
        self.compacted
    }

    /// Drops changes older than the history window (called before history is read).
    pub(crate) fn expire_old(&mut self) {
        let Some(window) = self.history_window else {
            return;
        };
        let now = Instant::now();
        while self
            .history
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > window)
        {
            if let Some((_, old)) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    /// Subscribes to changes committed from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Subscribes to the changes committed from now on to the objects of one storage key, and,
    /// for a custom resource, to the changes of the CRD serving it (so a watch sees its CRD go
    /// after its objects' deletions). Other resources' changes never fill this channel.
    pub(crate) fn subscribe_to(&mut self, storage: &str) -> broadcast::Receiver<Arc<Change>> {
        self.channels
            .entry(storage.to_string())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Changes of `storage` after `rv`, oldest first, or `None` if the history no longer
    /// reaches back that far. Only that resource's versions are parsed again (see [`Version`]).
    pub(crate) fn since(&self, rv: u64, storage: &str) -> Option<Vec<Arc<Change>>> {
        if rv < self.compacted {
            return None;
        }
        // The history is in resourceVersion order.
        let first = self.history.partition_point(|(_, c)| c.rv <= rv);
        Some(
            self.history
                .range(first..)
                .filter(|(_, c)| c.storage == storage)
                .map(|(_, c)| c.change())
                .collect(),
        )
    }

    /// Objects of a resource as they were at `rv`, in key order, after `after` (exclusive) and
    /// optionally in one namespace; `None` if the history no longer reaches back that far. The
    /// current state with the changes since `rv` undone: what etcd serves for a read at a past
    /// revision, and so what makes paged lists a consistent snapshot.
    pub(crate) fn list_at<'a>(
        &'a self,
        storage: &str,
        namespace: Option<&str>,
        after: Option<&Key>,
        rv: u64,
    ) -> Option<Vec<Cow<'a, Value>>> {
        let lower = after.map_or(Bound::Unbounded, |k| Bound::Excluded(k.clone()));
        let in_ns = |k: &Key| namespace.is_none_or(|n| n == k.0);
        let current = self
            .objects
            .get(storage)
            .into_iter()
            .flat_map(|m| m.range((lower.clone(), Bound::Unbounded)))
            .filter(|(k, _)| in_ns(k));
        if rv >= self.rv {
            return Some(current.map(|(_, v)| Cow::Borrowed(&**v)).collect());
        }
        if rv < self.compacted {
            return None;
        }
        let mut view: BTreeMap<Key, Cow<'a, Value>> = current
            .map(|(k, v)| (k.clone(), Cow::Borrowed(&**v)))
            .collect();
        let mut undone: BTreeMap<&Key, Option<&Version>> = BTreeMap::new();
        for (_, c) in self.history.iter().rev().take_while(|(_, c)| c.rv > rv) {
            if c.storage != storage {
                continue;
            }
            let before = match c.kind {
                ChangeType::Added => None,
                ChangeType::Modified | ChangeType::Deleted => c.old.as_ref(),
            };
            // Newest first: the last insert for a key is its state just before the oldest change.
            undone.insert(&c.key, before);
        }
        for (k, before) in undone {
            let wanted = match &lower {
                Bound::Excluded(a) => k > a,
                _ => true,
            };
            if !wanted || !in_ns(k) {
                continue;
            }
            match before {
                Some(v) => view.insert(k.clone(), v.get()),
                None => view.remove(k),
            };
        }
        Some(view.into_values().collect())
    }

    /// Drops the whole change history (test hook: makes every older resourceVersion expire).
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// One object.
    pub(crate) fn get(&self, storage: &str, key: &Key) -> Option<&Value> {
        self.objects.get(storage)?.get(key).map(|v| &**v)
    }

    /// The object `key` of `storage`, shared (a reader that goes on to write the store keeps
    /// it without copying it).
    pub(crate) fn get_shared(&self, storage: &str, key: &Key) -> Option<Arc<Value>> {
        self.objects.get(storage)?.get(key).cloned()
    }

    /// Objects of a resource, in key order, optionally in one namespace.
    pub(crate) fn list<'a>(
        &'a self,
        storage: &str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let from = namespace.map_or(Bound::Unbounded, |n| {
            Bound::Included((n.to_string(), String::new()))
        });
        self.objects
            .get(storage)
            .into_iter()
            .flat_map(move |m| m.range((from.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| &**v)
    }

    /// Objects of `storage` whose controller has the uid `owner`, in key order.
    pub(crate) fn controlled_by<'a>(
        &'a self,
        storage: &str,
        owner: &str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.controlled_by_shared(storage, owner).map(|v| &**v)
    }

    /// [`Store::controlled_by`], the objects shared.
    pub(crate) fn controlled_by_shared<'a>(
        &'a self,
        storage: &str,
        owner: &str,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        let objects = self.objects.get(storage);
        self.controlled
            .get(&(storage.to_string(), owner.to_string()))
            .into_iter()
            .flatten()
            .filter_map(move |k| objects?.get(k))
    }

    fn index(&mut self, storage: &str, obj: &Value, add: bool) {
        let Some(uid) = controller_uid(obj) else {
            return;
        };
        let slot = (storage.to_string(), uid.to_string());
        if add {
            self.controlled.entry(slot).or_default().insert(key_of(obj));
        } else if let Some(keys) = self.controlled.get_mut(&slot) {
            keys.remove(&key_of(obj));
            if keys.is_empty() {
                self.controlled.remove(&slot);
            }
        }
    }

    /// Every storage key with objects.
    pub(crate) fn storages(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        let recorded = self.recorded(&change);
        self.history.push_back((Instant::now(), recorded));
        while self.history.len() > self.history_limit {
            if let Some((_, old)) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.expire_old();
        // The channel of the resource changed; a CRD's changes also go to the channel of the
        // resource it serves. A channel nobody listens to any more is dropped.
        let mut targets = vec![change.storage.clone()];
        if change.storage == CRD_STORAGE {
            targets.push(crd_storage(&change.object));
        }
        for storage in targets {
            if let Some(tx) = self.channels.get(&storage)
                && tx.send(change.clone()).is_err()
            {
                self.channels.remove(&storage);
            }
        }
        let _ = self.tx.send(change);
    }

    /// `change` as the history keeps it. The version it supersedes (`old`) becomes compact text,
    /// also in the entry of the change that made it; a deleted object's last version too.
    fn recorded(&mut self, change: &Change) -> Recorded {
        let old = change.old.as_ref().map(|old| self.repack(old));
        let object = match change.kind {
            ChangeType::Deleted => Version::Packed(change.object_text()),
            ChangeType::Added | ChangeType::Modified => {
                Version::Shared(change.object.clone(), change.text.clone())
            }
        };
        Recorded {
            rv: change.rv,
            storage: change.storage.clone(),
            key: key_of(&change.object),
            kind: change.kind,
            object,
            old,
        }
    }

    /// `version` packed, also in the history entry of the change that made it (found by its
    /// resourceVersion), with the text a watch may have written already.
    fn repack(&mut self, version: &Arc<Value>) -> Version {
        let rv = version["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|rv| rv.parse::<u64>().ok());
        let at = rv.map(|rv| (rv, self.history.partition_point(|(_, c)| c.rv < rv)));
        if let Some((rv, at)) = at
            && let Some((_, entry)) = self.history.get_mut(at)
            && entry.rv == rv
            && matches!(&entry.object, Version::Shared(object, _) if Arc::ptr_eq(object, version))
        {
            let packed = Version::Packed(entry.object.text());
            entry.object = packed.clone();
            return packed;
        }
        Version::packed(version)
    }

    /// Stores an object with a new resourceVersion and returns it.
    pub(crate) fn put(&mut self, storage: &str, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = key_of(&obj);
        let obj = Arc::new(obj);
        let old = self
            .objects
            .entry(storage.to_string())
            .or_default()
            .insert(key, obj.clone());
        if let Some(o) = &old {
            self.index(storage, o, false);
        }
        self.index(storage, &obj, true);
        let kind = if old.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(Change {
            rv: self.rv,
            storage: storage.into(),
            kind,
            object: obj.clone(),
            old,
            text: Text::default(),
        });
        obj
    }

    /// Removes an object, returning it with the resourceVersion of its deletion.
    pub(crate) fn remove(&mut self, storage: &str, key: &Key) -> Option<Arc<Value>> {
        let before = self.objects.get_mut(storage)?.remove(key)?;
        self.index(storage, &before, false);
        self.rv += 1;
        let mut obj = (*before).clone();
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let obj = Arc::new(obj);
        self.record(Change {
            rv: self.rv,
            storage: storage.into(),
            kind: ChangeType::Deleted,
            object: obj.clone(),
            old: Some(before),
            text: Text::default(),
        });
        Some(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_bumps_rv_and_history_expires() {
        let mut s = Store::new(2);
        let a = s.put(
            "/configmaps",
            json!({"metadata": {"name": "a", "namespace": "d"}}),
        );
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        s.put(
            "/configmaps",
            json!({"metadata": {"name": "b", "namespace": "d"}}),
        );
        s.put(
            "/configmaps",
            json!({"metadata": {"name": "c", "namespace": "d"}}),
        );
        assert!(s.since(1, "/configmaps").is_none());
        assert_eq!(s.since(3, "/configmaps").unwrap().len(), 1);
        let gone = s.remove("/configmaps", &("d".into(), "a".into())).unwrap();
        assert_eq!(gone["metadata"]["resourceVersion"], "5");
        assert_eq!(s.list("/configmaps", Some("d")).count(), 2);
    }

    #[test]
    fn list_at_undoes_later_changes() {
        let mut s = Store::new(100);
        let cm = |name: &str, v: &str| json!({"metadata": {"name": name, "namespace": "d"}, "data": {"v": v}});
        s.put("/configmaps", cm("a", "1"));
        s.put("/configmaps", cm("b", "1"));
        let at = s.rv();
        s.put("/configmaps", cm("a", "2"));
        s.remove("/configmaps", &("d".into(), "b".into()));
        s.put("/configmaps", cm("c", "1"));
        s.put("/configmaps", cm("a", "3"));
        let then: Vec<Value> = s
            .list_at("/configmaps", Some("d"), None, at)
            .unwrap()
            .into_iter()
            .map(|o| o["data"].clone())
            .collect();
        assert_eq!(then, vec![json!({"v": "1"}), json!({"v": "1"})]);
        let after_a = s
            .list_at("/configmaps", None, Some(&("d".into(), "a".into())), at)
            .unwrap();
        assert_eq!(after_a.len(), 1);
        assert_eq!(after_a[0]["metadata"]["name"], "b");
        assert_eq!(
            s.list_at("/configmaps", None, None, s.rv()).unwrap().len(),
            2
        );
        s.compact();
        assert!(s.list_at("/configmaps", None, None, at).is_none());
    }

    #[test]
    fn a_resource_channel_carries_only_its_resource_and_still_lags_on_its_own_traffic() {
        use tokio::sync::broadcast::error::TryRecvError;
        let mut s = Store::new(100);
        let mut all = s.subscribe();
        let mut configmaps = s.subscribe_to("/configmaps");
        let obj = |name: String| json!({"metadata": {"name": name, "namespace": "d"}});
        // More changes of another resource than a channel holds: the ConfigMap channel never
        // sees them, while the channel of all changes (the simulation's) overflows.
        for i in 0..CHANNEL_CAPACITY + 10 {
            s.put("/secrets", obj(format!("s{i}")));
        }
        s.put("/configmaps", obj("a".into()));
        let first = configmaps.try_recv().map(|c| c.storage.clone());
        assert_eq!(first, Ok("/configmaps".to_string()));
        assert!(matches!(all.try_recv(), Err(TryRecvError::Lagged(_))));
        // Its own resource's traffic still makes a slow subscriber lag (and its watch end).
        for i in 0..CHANNEL_CAPACITY + 1 {
            s.put("/configmaps", obj(format!("c{i}")));
        }
        assert!(matches!(
            configmaps.try_recv(),
            Err(TryRecvError::Lagged(_))
        ));
        // A CRD's changes also reach the resource it serves, in order with that resource's own.
        let mut widgets = s.subscribe_to("example.com/widgets");
        s.put("example.com/widgets", obj("w".into()));
        let crd = json!({"metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"plural": "widgets"}}});
        s.put(CRD_STORAGE, crd);
        s.remove(CRD_STORAGE, &(String::new(), "widgets.example.com".into()));
        let seen: Vec<(String, ChangeType)> = std::iter::from_fn(|| widgets.try_recv().ok())
            .map(|c| (c.storage.clone(), c.kind))
            .collect();
        assert_eq!(
            seen,
            [
                ("example.com/widgets".to_string(), ChangeType::Added),
                (CRD_STORAGE.to_string(), ChangeType::Added),
                (CRD_STORAGE.to_string(), ChangeType::Deleted),
            ]
        );
        // A channel nobody listens to is dropped at its next change.
        drop(widgets);
        s.put("example.com/widgets", obj("w2".into()));
        assert!(!s.channels.contains_key("example.com/widgets"));
    }

    #[test]
    fn a_change_shares_its_object_with_the_store_and_packs_what_it_supersedes() {
        let mut s = Store::new(100);
        let first = json!({"metadata": {"name": "a", "namespace": "d"}, "data": {"n": 1.5e300, "m": 0.1, "i": -9007199254740993i64}});
        s.put("/configmaps", first);
        s.put(
            "/configmaps",
            json!({"metadata": {"name": "a", "namespace": "d"}, "data": {}}),
        );
        let key = ("d".to_string(), "a".to_string());
        let current = &s.objects["/configmaps"][&key];
        let changes: Vec<&Recorded> = s.history.iter().map(|(_, c)| c).collect();
        assert!(
            matches!(&changes[1].object, Version::Shared(o, _) if Arc::ptr_eq(o, current)),
            "the current version is the store's"
        );
        let (Version::Packed(made), Some(Version::Packed(superseded))) =
            (&changes[0].object, &changes[1].old)
        else {
            panic!("the superseded version is packed: {changes:?}");
        };
        assert!(
            Arc::ptr_eq(made, superseded),
            "one text for the version, in both changes"
        );
        // Replayed as it was stored.
        assert_eq!(s.since(1, "/secrets").map(|c| c.len()), Some(0));
        let replayed = s
            .since(changes[0].rv - 1, "/configmaps")
            .unwrap_or_default();
        let versions: Vec<(u64, &Value, Option<&Value>)> = replayed
            .iter()
            .map(|c| (c.rv, &*c.object, c.old.as_deref()))
            .collect();
        let v1 = json!({"metadata": {"name": "a", "namespace": "d", "resourceVersion": "2"},
            "data": {"n": 1.5e300, "m": 0.1, "i": -9007199254740993i64}});
        let v2 = json!({"metadata": {"name": "a", "namespace": "d", "resourceVersion": "3"},
            "data": {}});
        assert_eq!(
            versions,
            [(2, &v1, None), (3, &v2, Some(&v1))],
            "what watches resuming at 1 are told"
        );
        let at_2 = s.list_at("/configmaps", None, None, 2).unwrap_or_default();
        assert_eq!(at_2, [Cow::Borrowed(&v1)], "a list at resourceVersion 2");
    }

    #[test]
    fn a_text_is_what_serde_json_writes() {
        let big = "x".repeat(2 << 20);
        for v in [
            json!(null),
            json!({"a": [1.5e300, 0.1, -9007199254740993i64], "b": "é \" \\ \n ✓"}),
            json!({"big": big}),
            json!({}),
        ] {
            assert_eq!(&*to_text(&v), &serde_json::to_vec(&v).unwrap()[..]);
        }
    }

    #[test]
    fn the_controller_index_follows_writes_and_namespaces_stay_apart() {
        let mut s = Store::new(100);
        let pod = |ns: &str, name: &str, owner: &str, controller: bool| {
            json!({"metadata": {"name": name, "namespace": ns,
                "ownerReferences": [{"uid": owner, "controller": controller}]}})
        };
        let names = |s: &Store, owner: &str| -> Vec<String> {
            s.controlled_by("/pods", owner)
                .map(|o| key_of(o).1)
                .collect()
        };
        s.put("/pods", pod("a", "p1", "rs1", true));
        s.put("/pods", pod("a", "p2", "rs1", true));
        s.put("/pods", pod("a", "p3", "rs1", false));
        s.put("/pods", pod("b", "p4", "rs2", true));
        assert_eq!(
            names(&s, "rs1"),
            ["p1", "p2"],
            "only controller references count"
        );
        s.put("/pods", pod("a", "p2", "rs2", true));
        assert_eq!(
            names(&s, "rs1"),
            ["p1"],
            "a changed controller leaves the old one"
        );
        assert_eq!(names(&s, "rs2"), ["p2", "p4"]);
        s.remove("/pods", &("a".into(), "p1".into()));
        assert!(names(&s, "rs1").is_empty());
        assert!(s.controlled_by("/replicasets", "rs2").next().is_none());
        let in_a: Vec<String> = s.list("/pods", Some("a")).map(|o| key_of(o).1).collect();
        assert_eq!(in_a, ["p2", "p3"]);
        assert_eq!(s.list("/pods", Some("b")).count(), 1);
        assert_eq!(s.list("/pods", Some("")).count(), 0);
        assert_eq!(s.list("/pods", None).count(), 3);
    }
}
