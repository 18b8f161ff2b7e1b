//! Watch events that arrive while their resource's reconcile runs: held until it ends, then dropped if they echo its own writes.
//!
//! A reconcile writes its children and its status, and the API server tells the watches of
//! each change as it commits it, often before the write's response reaches the reconcile. Until
//! that response gives the resourceVersion the write produced, such an echo cannot be told
//! from somebody else's change; let through, it queues one more reconcile that renders,
//! compares and writes nothing. So while a resource's reconcile runs, the events of the
//! resource and of its children that would trigger it are held here. When the reconcile ends
//! (or is cancelled), every held event that is not one of its own writes, by resourceVersion,
//! triggers one more reconcile, as it would have without holding; the echoes trigger nothing.
//! The caches take every event at once: only the trigger waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt as _;
use kube::runtime::reflector::ObjectRef;

use super::context::KindContext;
use super::custom_resource::CustomResource;
use super::reconcile::object_key;

/// The resources whose reconcile runs, with the events held for each.
///
/// An entry lives only while its reconcile runs, so the map holds at most as many entries as
/// reconciles run at once.
#[derive(Debug, Default)]
pub(crate) struct HeldEvents {
    running: Mutex<HashMap<String, Held>>,
}

/// The events held for one resource while its reconcile runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// resourceVersions at which the resource itself changed (`None`: the event had none).
    pub(crate) resource: Vec<Option<String>>,
    /// `(child key, resourceVersion)` of its children's changes, the key as
    /// [`super::apply::memory_key`] builds it.
    pub(crate) children: Vec<(String, Option<String>)>,
}

impl Held {
    /// Whether any held event is somebody else's change: `own_status(version)` and
    /// `own_apply(child key, version)` tell the resource's own writes. Every event is asked
    /// about (no short cut), so each own write's pending echo is consumed.
    pub(crate) fn any_foreign(
        &self,
        mut own_status: impl FnMut(&str) -> bool,
        mut own_apply: impl FnMut(&str, &str) -> bool,
    ) -> bool {
        let resource = self
            .resource
            .iter()
            .map(|version| !version.as_deref().is_some_and(&mut own_status))
            .fold(false, |any, foreign| any | foreign);
        let children = self
            .children
            .iter()
            .map(|(key, version)| !version.as_deref().is_some_and(|v| own_apply(key, v)))
            .fold(false, |any, foreign| any | foreign);
        resource || children
    }
}

/// The key of a resource here: `group/Kind/namespace/name` (the kind as
/// [`super::children::kind_key`] writes it).
pub(crate) fn owner_key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl HeldEvents {
    /// The reconcile of `owner` starts: its events are held from now on.
    pub(crate) fn start(&self, owner: &str) {
        lock(&self.running).insert(owner.to_string(), Held::default());
    }

    /// Holds a change of the resource `owner` itself at `version` if its reconcile runs;
    /// returns whether it did (else the event triggers as usual).
    pub(crate) fn hold_resource(&self, owner: &str, version: Option<&str>) -> bool {
        match lock(&self.running).get_mut(owner) {
            Some(held) => {
                held.resource.push(version.map(str::to_string));
                true
            }
            None => false,
        }
    }

    /// Holds a change of `owner`'s child `child` (its key) at `version` if the owner's
    /// reconcile runs; returns whether it did.
    pub(crate) fn hold_child(&self, owner: &str, child: &str, version: Option<&str>) -> bool {
        match lock(&self.running).get_mut(owner) {
            Some(held) => {
                held.children
                    .push((child.to_string(), version.map(str::to_string)));
                true
            }
            None => false,
        }
    }

    /// The reconcile of `owner` ended: what was held for it (events from now on trigger as usual).
    pub(crate) fn end(&self, owner: &str) -> Held {
        lock(&self.running).remove(owner).unwrap_or_default()
    }

    /// How many reconciles hold events now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.running).len()
    }
}

/// Holds the events of one resource while its reconcile runs; dropped when the reconcile ends
/// or is cancelled, it releases them and asks for one more reconcile if any was foreign.
pub(crate) struct Holding {
    ctx: Arc<KindContext>,
    owner: String,
    object_key: String,
    retrigger: (
        UnboundedSender<ObjectRef<CustomResource>>,
        ObjectRef<CustomResource>,
    ),
}

impl Holding {
    /// Starts holding the events of `object`, whose reconcile starts; a foreign event held
    /// meanwhile sends the object to `trigger` (the kind's controller's reconcile requests).
    pub(crate) fn start(
        ctx: Arc<KindContext>,
        object: &CustomResource,
        trigger: UnboundedSender<ObjectRef<CustomResource>>,
    ) -> Self {
        let namespace = object.namespace().unwrap_or_default();
        let owner = owner_key(&ctx.key, &namespace, &object.name_any());
        ctx.shared.children.held.start(&owner);
        let reference = ObjectRef::from_obj_with(object, ctx.resource.clone());
        Self {
            object_key: object_key(object),
            owner,
            retrigger: (trigger, reference),
            ctx,
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let held = self.ctx.shared.children.held.end(&self.owner);
        let own_writes = &self.ctx.own_writes;
        let applied = &self.ctx.shared.children.applied;
        let foreign = held.any_foreign(
            |version| own_writes.is_echo(&self.object_key, Some(version)),
            |child, version| applied.is_own_write(child, version),
        );
        if foreign {
            let (trigger, reference) = &self.retrigger;
            let _ = trigger.unbounded_send(reference.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_running_reconcile_holds_and_its_end_releases_everything() {
        let held = HeldEvents::default();
        let owner = owner_key("web.tera-operator.io/WebServer", "ns", "a");
        assert!(
            !held.hold_resource(&owner, Some("5")),
            "not running: triggers"
        );
        held.start(&owner);
        assert!(held.hold_resource(&owner, Some("7")));
        assert!(held.hold_child(&owner, "apps/Deployment/ns/a", Some("6")));
        let other = owner_key("web.tera-operator.io/WebServer", "ns", "b");
        assert!(
            !held.hold_child(&other, "apps/Deployment/ns/b", Some("8")),
            "another resource"
        );
        assert_eq!(
            held.end(&owner),
            Held {
                resource: vec![Some("7".into())],
                children: vec![("apps/Deployment/ns/a".into(), Some("6".into()))],
            }
        );
        assert_eq!(held.len(), 0);
        assert!(!held.hold_resource(&owner, Some("9")), "ended: triggers");
        assert_eq!(held.end(&owner), Held::default());
    }

    #[test]
    fn held_events_are_foreign_unless_they_are_own_writes() {
        let own_status = |v: &str| v == "7";
        let own_apply = |k: &str, v: &str| k == "apps/Deployment/ns/a" && v == "6";
        let echoes = Held {
            resource: vec![Some("7".into())],
            children: vec![("apps/Deployment/ns/a".into(), Some("6".into()))],
        };
        assert!(!echoes.any_foreign(own_status, own_apply));
        assert!(!Held::default().any_foreign(own_status, own_apply));
        let user_change = Held {
            resource: vec![Some("8".into())],
            ..Held::default()
        };
        assert!(user_change.any_foreign(own_status, own_apply));
        let child_changed_by_others = Held {
            children: vec![("apps/Deployment/ns/a".into(), Some("9".into()))],
            ..Held::default()
        };
        assert!(child_changed_by_others.any_foreign(own_status, own_apply));
        let unversioned = Held {
            resource: vec![None],
            ..Held::default()
        };
        assert!(unversioned.any_foreign(own_status, own_apply));
    }

    #[test]
    fn every_held_event_is_asked_about() {
        let mut asked = Vec::new();
        let held = Held {
            resource: vec![Some("1".into()), Some("2".into())],
            children: vec![("c".into(), Some("3".into()))],
        };
        let foreign = held.any_foreign(
            |v| {
                asked.push(v.to_string());
                false
            },
            |_, _| true,
        );
        assert!(foreign);
        assert_eq!(
            asked,
            ["1", "2"],
            "no short cut past the first foreign event"
        );
    }
}
