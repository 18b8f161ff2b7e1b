//! The object store: JSON objects per resource, one global resourceVersion, a change history for watches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::api::resources::Registry;

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
    /// The object before the change (for `Modified`).
    pub(crate) old: Option<Arc<Value>>,
}

/// A key within one resource: `(namespace, name)`; namespace is empty for cluster-scoped objects.
pub(crate) type Key = (String, String);

/// The store: every object, the registry of served types, the change history.
#[derive(Debug)]
pub(crate) struct Store {
    rv: u64,
    objects: HashMap<String, BTreeMap<Key, Value>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
    /// The served types (built-ins and CRDs).
    pub(crate) registry: Registry,
    /// Cluster IPs handed out to Services.
    pub(crate) next_cluster_ip: u32,
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
        let (tx, _) = broadcast::channel(16 * 1024);
        Self {
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            tx,
            registry: Registry::default(),
            next_cluster_ip: 1,
        }
    }

    /// The current resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// Subscribes to changes committed from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Changes after `rv`, oldest first, or `None` if the history no longer reaches back that far.
    pub(crate) fn since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// Drops the whole change history (test hook: makes every older resourceVersion expire).
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// One object.
    pub(crate) fn get(&self, storage: &str, key: &Key) -> Option<&Value> {
        self.objects.get(storage)?.get(key)
    }

    /// Objects of a resource, in key order, optionally in one namespace.
    pub(crate) fn list<'a>(
        &'a self,
        storage: &str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .get(storage)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
    }

    /// Objects of a resource after `after` in key order (for `continue`).
    pub(crate) fn list_after<'a>(
        &'a self,
        storage: &str,
        after: &Key,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let after = after.clone();
        use std::ops::Bound;
        self.objects
            .get(storage)
            .into_iter()
            .flat_map(move |m| m.range((Bound::Excluded(after.clone()), Bound::Unbounded)))
            .map(|(_, v)| v)
    }

    /// Every storage key with objects.
    pub(crate) fn storages(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        let _ = self.tx.send(change);
    }

    /// Stores an object with a new resourceVersion and returns it.
    pub(crate) fn put(&mut self, storage: &str, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = key_of(&obj);
        let old = self
            .objects
            .entry(storage.to_string())
            .or_default()
            .insert(key, obj.clone());
        let kind = if old.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(Change {
            rv: self.rv,
            storage: storage.into(),
            kind,
            object: Arc::new(obj.clone()),
            old: old.map(Arc::new),
        });
        obj
    }

    /// Removes an object, returning it with the resourceVersion of its deletion.
    pub(crate) fn remove(&mut self, storage: &str, key: &Key) -> Option<Value> {
        let mut obj = self.objects.get_mut(storage)?.remove(key)?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(Change {
            rv: self.rv,
            storage: storage.into(),
            kind: ChangeType::Deleted,
            object: Arc::new(obj.clone()),
            old: None,
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
        assert!(s.since(1).is_none());
        assert_eq!(s.since(3).unwrap().len(), 1);
        let gone = s.remove("/configmaps", &("d".into(), "a".into())).unwrap();
        assert_eq!(gone["metadata"]["resourceVersion"], "5");
        assert_eq!(s.list("/configmaps", Some("d")).count(), 2);
        assert_eq!(
            s.list_after("/configmaps", &("d".into(), "b".into()))
                .count(),
            1
        );
    }
}
