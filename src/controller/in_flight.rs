//! Children whose apply the API server has answered but whose watch event has not reached the cache yet.
//!
//! The echo of our own apply triggers no reconcile (see [`super::apply::AppliedMemory`]), so a
//! status computed from the cache while the echo is on its way would describe the child as it
//! was before the write, and nothing would compute it again. Until its echo arrives, the object
//! the server answered the apply with stands in for the cached one: status templates and
//! readiness see the child as written. An entry lives only while its echo is due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::discovery::ApiResource;

use super::child_store::CachedChild;

/// The applied children whose watch events are still due, keyed like
/// [`super::apply::memory_key`].
#[derive(Default)]
pub(crate) struct InFlight {
    written: Mutex<HashMap<String, Written>>,
}

/// One child as the API server answered its apply.
struct Written {
    resource: ApiResource,
    child: Arc<CachedChild>,
    version: u64,
}

/// A resourceVersion as a number, when it is one (etcd's revisions and the sandbox's counter
/// are; resourceVersions are opaque otherwise, and then nothing is kept in flight).
fn numeric(version: Option<&str>) -> Option<u64> {
    version.and_then(|v| v.parse().ok())
}

impl InFlight {
    /// Our apply of `key` was answered with `child` (of `resource`).
    pub(crate) fn wrote(&self, key: &str, resource: &ApiResource, child: Arc<CachedChild>) {
        let Some(version) = numeric(child.resource_version.as_deref()) else {
            return;
        };
        if let Ok(mut written) = self.written.lock() {
            written.insert(
                key.to_string(),
                Written {
                    resource: resource.clone(),
                    child,
                    version,
                },
            );
        }
    }

    /// A child watch delivered `key` at `resource_version` (changed or deleted): a write no
    /// newer than that is no longer in flight.
    pub(crate) fn observed(&self, key: &str, resource_version: Option<&str>) {
        let Some(seen) = numeric(resource_version) else {
            return;
        };
        if let Ok(mut written) = self.written.lock()
            && written.get(key).is_some_and(|w| w.version <= seen)
        {
            written.remove(key);
        }
    }

    /// A child watch relisted: its cache is current for every key.
    pub(crate) fn relisted(&self, resource: &ApiResource) {
        if let Ok(mut written) = self.written.lock() {
            written.retain(|_, w| {
                w.resource.group != resource.group || w.resource.kind != resource.kind
            });
        }
    }

    /// Our write of `key` when it is newer than the cached version `cached` (`None`: not
    /// cached yet). An entry the cache has caught up with is dropped.
    pub(crate) fn newer_than(
        &self,
        key: &str,
        cached: Option<&str>,
    ) -> Option<(ApiResource, Arc<CachedChild>)> {
        let mut written = self.written.lock().ok()?;
        let entry = written.get(key)?;
        if numeric(cached).is_some_and(|cached| cached >= entry.version) {
            written.remove(key);
            return None;
        }
        Some((entry.resource.clone(), entry.child.clone()))
    }

    /// How many writes are in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.written.lock().map(|w| w.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;
    use serde_json::json;

    fn service(version: &str) -> Arc<CachedChild> {
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": version},
            "spec": {"ports": [{"port": 80}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(CachedChild::new(object))
    }

    fn resource() -> ApiResource {
        ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&())
    }

    #[test]
    fn a_write_stands_in_until_the_cache_has_it() {
        let in_flight = InFlight::default();
        in_flight.wrote("/Service/ns/web", &resource(), service("10"));
        let (_, child) = in_flight
            .newer_than("/Service/ns/web", None)
            .unwrap_or_else(|| panic!("not cached yet: the write stands in"));
        assert_eq!(child.resource_version.as_deref(), Some("10"));
        assert!(in_flight.newer_than("/Service/ns/web", Some("9")).is_some());
        assert!(in_flight.newer_than("/Service/ns/other", None).is_none());

        in_flight.observed("/Service/ns/web", Some("9"));
        assert_eq!(in_flight.len(), 1, "an older event is not the echo");
        in_flight.observed("/Service/ns/web", Some("10"));
        assert_eq!(in_flight.len(), 0, "the echo ends it");
    }

    #[test]
    fn a_cache_that_caught_up_or_relisted_ends_it() {
        let in_flight = InFlight::default();
        in_flight.wrote("/Service/ns/web", &resource(), service("10"));
        assert!(
            in_flight
                .newer_than("/Service/ns/web", Some("11"))
                .is_none()
        );
        assert_eq!(in_flight.len(), 0);

        in_flight.wrote("/Service/ns/web", &resource(), service("12"));
        let deployments = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        in_flight.relisted(&deployments);
        assert_eq!(in_flight.len(), 1, "another kind's relist");
        in_flight.relisted(&resource());
        assert_eq!(in_flight.len(), 0);

        in_flight.wrote("/Service/ns/web", &resource(), service("opaque"));
        assert_eq!(in_flight.len(), 0, "an opaque version cannot be followed");
    }
}
