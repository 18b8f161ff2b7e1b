//! Conversion between the served versions of one stored type: Events (core/v1 and events.k8s.io/v1) and HorizontalPodAutoscalers (autoscaling/v1 and v2).

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use serde_json::Value;

use crate::api::resources::ResourceInfo;
use crate::api::{events, hpa, schema};

fn is_hpa_v1(res: &ResourceInfo) -> bool {
    res.group == "autoscaling" && res.plural == "horizontalpodautoscalers" && res.version == "v1"
}

/// The apiVersion objects of `res` are stored in.
pub(crate) fn storage_api_version(res: &ResourceInfo) -> String {
    if res.storage == "events" {
        "v1".into()
    } else if res.storage == "autoscaling/horizontalpodautoscalers" {
        "autoscaling/v2".into()
    } else {
        res.api_version()
    }
}

/// Converts a served object into storage form.
pub(crate) fn to_storage(res: &ResourceInfo, obj: Value) -> Value {
    if is_hpa_v1(res) {
        let mut v2 = hpa::v1_to_v2(&obj);
        v2["apiVersion"] = Value::String("autoscaling/v2".into());
        return v2;
    }
    events::to_storage(res, obj)
}

/// Converts a stored object into the form `res` serves (sets apiVersion and kind).
pub(crate) fn to_served(res: &ResourceInfo, obj: &Value) -> Value {
    if is_hpa_v1(res) {
        return events::to_served(res, &hpa::v2_to_v1(obj));
    }
    if res.custom
        && let Some(schema) = &res.schema
    {
        // As kube-apiserver decodes a custom resource read from etcd: pruned and defaulted by
        // the CRD's current schema, so a field a later CRD version dropped is not served even
        // before the object is written again.
        let mut served = obj.clone();
        schema::prune_and_default(&mut served, schema);
        return events::into_served(res, served);
    }
    events::to_served(res, obj)
}

/// Whether the stored object already is in the form `res` serves: a type with one form (not an
/// Event or HorizontalPodAutoscaler seen in another version, nor a custom resource that is
/// pruned and defaulted as it is read) whose apiVersion and kind are set.
pub(crate) fn is_served_form(res: &ResourceInfo, obj: &Value) -> bool {
    let one_form = res.storage != "events"
        && res.storage != "autoscaling/horizontalpodautoscalers"
        && !(res.custom && res.schema.is_some());
    one_form
        && obj["kind"] == res.kind.as_str()
        && obj["apiVersion"]
            .as_str()
            .is_some_and(|v| res.is_api_version(v))
}

/// [`to_served`] without a copy where the stored object already is in the served form (see
/// [`is_served_form`]).
pub(crate) fn served_cow<'a>(res: &ResourceInfo, obj: &'a Value) -> Cow<'a, Value> {
    if is_served_form(res, obj) {
        Cow::Borrowed(obj)
    } else {
        Cow::Owned(to_served(res, obj))
    }
}

/// An object as a write answers with it: the stored object itself where that is the served
/// form, or a converted copy.
#[derive(Debug, Clone)]
pub(crate) enum Served {
    /// The stored object, shared with the store.
    Shared(Arc<Value>),
    /// A copy in the served form (or an object no longer stored).
    Owned(Value),
}

impl Deref for Served {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            Served::Shared(v) => v,
            Served::Owned(v) => v,
        }
    }
}

impl Served {
    /// The object, copied out of the store if it is shared.
    pub(crate) fn into_owned(self) -> Value {
        match self {
            Served::Shared(v) => Arc::unwrap_or_clone(v),
            Served::Owned(v) => v,
        }
    }
}

/// [`to_served`] of a stored object, sharing it where it already is in the served form.
pub(crate) fn served_shared(res: &ResourceInfo, obj: &Arc<Value>) -> Served {
    if is_served_form(res, obj) {
        Served::Shared(obj.clone())
    } else {
        Served::Owned(to_served(res, obj))
    }
}
