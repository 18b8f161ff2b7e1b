//! The watched custom resources, decoded so that one nested too deeply fails alone.
//!
//! kube's client decodes with serde_json, which refuses JSON nested deeper than 128 levels. A
//! list or watch holding one such resource would then fail as a whole, again at every retry,
//! and stall its kind, while Kubernetes itself stores objects nested up to 10,000 levels. So a
//! [`CustomResource`] is decoded with its own depth bound: containers below [`DECODE_DEPTH`]
//! levels are skipped without recursion (kept as `null`). What remains is still deeper than
//! the render's limit, so the render refuses that resource alone with `InvalidSpec`, naming
//! the path, and the kind keeps serving its others.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{ApiResource, DynamicObject};
use kube::core::DynamicResourceScope;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::packed::Packed;

/// Levels of mappings and lists kept when a resource is decoded, the resource itself being
/// the first. Below the render's own limit ([`crate::render`] refuses values nested past 64
/// levels), and far enough below serde_json's 128 that the levels of a list or a watch event
/// around the resource fit too.
pub(crate) const DECODE_DEPTH: usize = 100;

// What is kept must still be deeper than the render allows (the resource and `spec` are two
// levels above the values), or a cut-off resource would render with its cut values.
const _: () = assert!(crate::render::MAX_VALUES_DEPTH < DECODE_DEPTH - 2);

/// A watched custom resource: a [`DynamicObject`] whose containers nested deeper than
/// [`DECODE_DEPTH`] levels were cut off (as `null`) when it was decoded. The cache's copy keeps
/// its content (all but the metadata) packed in the second field (see [`super::cr_cache`]);
/// it serializes as the whole resource either way.
#[derive(Clone, Debug)]
pub(crate) struct CustomResource(pub(crate) DynamicObject, pub(crate) Option<Packed>);

impl Serialize for CustomResource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::cr_cache::unpacked(self).serialize(serializer)
    }
}

impl Deref for CustomResource {
    type Target = DynamicObject;

    fn deref(&self) -> &DynamicObject {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CustomResource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Bounded { depth: 1 }.deserialize(deserializer)?;
        dynamic_object(value)
            .map(|object| CustomResource(object, None))
            .map_err(de::Error::custom)
    }
}

/// A [`DynamicObject`] decoded as serde would, but without the buffering of its flattened
/// fields (see [`dynamic_object`]): child watches and apply answers decode into it.
#[derive(Clone, Debug)]
pub(crate) struct Decoded(pub(crate) DynamicObject);

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        dynamic_object(value)
            .map(Decoded)
            .map_err(de::Error::custom)
    }
}

/// `Resource` for a newtype over a [`DynamicObject`] (its field `.0`) whose dynamic type
/// dereferences to an [`ApiResource`]: everything as the object it wraps.
macro_rules! dynamic_object_resource {
    ($wrapper:ty, $dynamic:ty) => {
        impl Resource for $wrapper {
            type DynamicType = $dynamic;
            type Scope = DynamicResourceScope;

            fn kind(dt: &$dynamic) -> Cow<'_, str> {
                DynamicObject::kind(dt)
            }

            fn group(dt: &$dynamic) -> Cow<'_, str> {
                DynamicObject::group(dt)
            }

            fn version(dt: &$dynamic) -> Cow<'_, str> {
                DynamicObject::version(dt)
            }

            fn api_version(dt: &$dynamic) -> Cow<'_, str> {
                DynamicObject::api_version(dt)
            }

            fn plural(dt: &$dynamic) -> Cow<'_, str> {
                DynamicObject::plural(dt)
            }

            fn meta(&self) -> &ObjectMeta {
                &self.0.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.0.metadata
            }
        }
    };
}

dynamic_object_resource!(Decoded, ApiResource);

/// `value` as a [`DynamicObject`], as `serde_json::from_value` makes it. An object with a
/// string `apiVersion` and `kind` and a `metadata` mapping (every object the API server sends)
/// is taken apart directly: serde's flattened fields would buffer the whole object once more.
fn dynamic_object(value: Value) -> Result<DynamicObject, serde_json::Error> {
    let is_plain = |map: &Map<String, Value>| {
        map.get("apiVersion").is_some_and(Value::is_string)
            && map.get("kind").is_some_and(Value::is_string)
            && map.get("metadata").is_some_and(Value::is_object)
    };
    let mut map = match value {
        Value::Object(map) if is_plain(&map) => map,
        other => return serde_json::from_value(other),
    };
    let mut text = |key: &str| match map.remove(key) {
        Some(Value::String(text)) => text,
        _ => String::new(),
    };
    let types = kube::api::TypeMeta {
        api_version: text("apiVersion"),
        kind: text("kind"),
    };
    let metadata: ObjectMeta = serde_json::from_value(map.remove("metadata").unwrap_or_default())?;
    Ok(DynamicObject {
        types: Some(types),
        metadata,
        data: Value::Object(map),
    })
}

/// The API resource of a custom resource kind, shared: kube-runtime keys every cached object and
/// every scheduled reconcile by an `ObjectRef` that carries its kind's [`Resource::DynamicType`],
/// so with thousands of resources a pointer each instead of five strings each counts.
/// Compared and hashed by content, like the [`ApiResource`] it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Kind(Arc<ApiResource>);

impl From<ApiResource> for Kind {
    fn from(resource: ApiResource) -> Self {
        Self(Arc::new(resource))
    }
}

impl Deref for Kind {
    type Target = ApiResource;

    fn deref(&self) -> &ApiResource {
        &self.0
    }
}

dynamic_object_resource!(CustomResource, Kind);

/// Decodes one JSON value at `depth` (the resource itself is at 1), skipping the contents of
/// containers below [`DECODE_DEPTH`].
struct Bounded {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth > DECODE_DEPTH {
            // serde_json skips a value with its own stack, not by recursion.
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(Bounded {
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth > DECODE_DEPTH {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut entries = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Bounded {
                depth: self.depth + 1,
            })?;
            entries.insert(key, value);
        }
        Ok(Value::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_taken_apart_as_serde_does() {
        for value in [
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "a", "labels": {"x": "y"}},
                   "spec": {"n": 1}, "status": {"s": [1, 2]}}),
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "a"}}),
            json!({"kind": "K", "metadata": {"name": "a"}, "spec": {}}),
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": 3}}),
        ] {
            let text = value.to_string();
            let decoded = serde_json::from_str::<Decoded>(&text).ok().map(|d| d.0);
            assert_eq!(decoded, serde_json::from_str::<DynamicObject>(&text).ok());
            // Both fail alike or give the same object.
            let fast = dynamic_object(value.clone()).ok();
            let serde = serde_json::from_value::<DynamicObject>(value).ok();
            assert_eq!(fast, serde);
        }
    }

    #[test]
    fn kinds_share_their_api_resource_and_compare_by_content() {
        use std::hash::BuildHasher as _;
        let resource = || {
            ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk("web.tera-operator.io", "v1alpha1", "WebServer"),
                "webservers",
            )
        };
        let kind = Kind::from(resource());
        let clone = kind.clone();
        assert!(Arc::ptr_eq(&kind.0, &clone.0), "a clone is a pointer");
        let other = Kind::from(resource());
        assert_eq!(kind, other, "equal content, separate allocations");
        let hasher = std::collections::hash_map::RandomState::new();
        assert_eq!(hasher.hash_one(&kind), hasher.hash_one(&other));
        assert_eq!(CustomResource::plural(&kind), "webservers");
        assert_eq!(
            CustomResource::api_version(&kind),
            "web.tera-operator.io/v1alpha1"
        );
        let mut elsewhere = resource();
        elsewhere.plural = "others".into();
        assert_ne!(kind, Kind::from(elsewhere));
    }

    /// `levels` mappings nested under `spec.x`, as JSON text.
    fn nested_text(levels: usize) -> String {
        format!(
            "{{\"apiVersion\":\"x.io/v1\",\"kind\":\"Thing\",\"metadata\":{{\"name\":\"deep\",\"uid\":\"u\"}},\"spec\":{{\"x\":{}1{}}}}}",
            "{\"a\":".repeat(levels),
            "}".repeat(levels)
        )
    }

    fn depth(value: &Value) -> usize {
        match value {
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn a_shallow_resource_decodes_as_a_dynamic_object_does() {
        let text = nested_text(5);
        let ours: CustomResource = serde_json::from_str(&text).unwrap();
        let theirs: DynamicObject = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            serde_json::to_value(&theirs).unwrap()
        );
        assert_eq!(ours.metadata.name.as_deref(), Some("deep"));
    }

    #[test]
    fn a_resource_deeper_than_serde_json_allows_decodes_cut_off() {
        let text = nested_text(5_000);
        assert!(serde_json::from_str::<DynamicObject>(&text).is_err());
        let ours: CustomResource = serde_json::from_str(&text).unwrap();
        assert_eq!(ours.metadata.name.as_deref(), Some("deep"));
        let whole = serde_json::to_value(&ours).unwrap();
        // The resource, spec, x and the mappings below it, down to the cut.
        assert_eq!(depth(&whole), DECODE_DEPTH);
    }

    #[test]
    fn inside_a_list_and_a_watch_event_it_decodes_too() {
        let item = nested_text(1_000);
        let list = format!("{{\"items\":[{item},{}]}}", nested_text(1));
        #[derive(Deserialize)]
        struct List {
            items: Vec<CustomResource>,
        }
        let list: List = serde_json::from_str(&list).unwrap();
        assert_eq!(list.items.len(), 2);
        let event = format!("{{\"type\":\"ADDED\",\"object\":{item}}}");
        let event: kube::api::WatchEvent<CustomResource> = serde_json::from_str(&event).unwrap();
        assert!(matches!(event, kube::api::WatchEvent::Added(_)));
        let numbers: CustomResource = serde_json::from_value(json!({
            "apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "n"},
            "spec": {"i": -1, "u": 2, "f": 1.5, "b": true, "n": null, "l": [1, "s"]}
        }))
        .unwrap();
        assert_eq!(
            numbers.data["spec"],
            json!({"i": -1, "u": 2, "f": 1.5, "b": true, "n": null, "l": [1, "s"]})
        );
    }
}
