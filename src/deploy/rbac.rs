//! The operator's identity and privileges: ServiceAccount, ClusterRole, Role and bindings.
//!
//! The ClusterRole grants exactly what the controller calls, derived from its API calls
//! (`src/controller`) and nothing more:
//!
//! - the custom resources: `get` (does the owner still exist before a child is created),
//!   `list` and `watch` (one watch per kind). The controller never writes them: no finalizer,
//!   no annotation, no spec.
//! - their `/status`: `patch` (a merge patch of the status subresource, never a PUT).
//! - their `/finalizers`: `update`, because children's ownerReferences set
//!   `blockOwnerDeletion`, which the OwnerReferencesPermissionEnforcement admission plugin
//!   allows only to who may update the owner's finalizers.
//! - every kind a chart may emit: `get` (an uncached object's metadata before adoption),
//!   `list` and `watch` (the child caches), `patch` (server-side apply), `create` (an apply
//!   that creates the object is authorized as a create too), `delete` (prune). Never `update`.
//! - `events.k8s.io` events: `create` (events are never patched into series; core `events`
//!   are not used).
//! - with `--install-crds`, the mapped kinds' CRDs.
//!
//! The leader-election Lease is granted by a Role in the operator's own namespace, limited to
//! the one Lease by name where RBAC allows it.
//!
//! Discovery (`/api`, `/apis`) needs no rule: every authenticated user may read it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::kinds::ResourceRef;
use super::{Options, labels};

/// Verbs on the custom resources themselves (read only, unless the kind adopts Helm releases).
pub(crate) const CR_VERBS: &[&str] = &["get", "list", "watch"];
/// Verbs added on the custom resources of kinds that adopt Helm releases: a merge patch removes
/// operator-sdk's helm-operator finalizer once its objects are taken over.
pub(crate) const ADOPTING_CR_VERBS: &[&str] = &["patch"];
/// Verbs on the custom resources' status subresource (a merge patch).
pub(crate) const STATUS_VERBS: &[&str] = &["patch"];
/// Verbs on the custom resources' finalizers subresource (ownerReferences with
/// `blockOwnerDeletion` need it where OwnerReferencesPermissionEnforcement is on).
pub(crate) const FINALIZER_VERBS: &[&str] = &["update"];
/// Verbs on every kind a chart may emit.
pub(crate) const CHILD_VERBS: &[&str] = &["get", "list", "watch", "create", "patch", "delete"];
/// Verbs on events.k8s.io events.
pub(crate) const EVENT_VERBS: &[&str] = &["create"];

/// One mapped custom resource kind, as RBAC and CRD installation see it.
#[derive(Debug, Clone)]
pub(crate) struct MappedKind {
    /// API group.
    pub(crate) group: String,
    /// Plural resource name.
    pub(crate) plural: String,
    /// The CRD's name, `<plural>.<group>`.
    pub(crate) crd_name: String,
    /// Whether its mapping entry adopts Helm releases (`adoptHelmReleases: true`).
    pub(crate) adopts_helm_releases: bool,
}

/// The rules of the operator's ClusterRole.
pub(crate) fn cluster_rules(
    kinds: &[MappedKind],
    children: &[ResourceRef],
    options: &Options,
) -> Vec<Value> {
    let mut verbs: BTreeMap<ResourceRef, BTreeSet<&'static str>> = BTreeMap::new();
    let mut grant = |group: &str, resource: String, list: &[&'static str]| {
        verbs
            .entry(ResourceRef {
                group: group.to_string(),
                resource,
            })
            .or_default()
            .extend(list.iter().copied());
    };
    for kind in kinds {
        grant(&kind.group, kind.plural.clone(), CR_VERBS);
        if kind.adopts_helm_releases {
            grant(&kind.group, kind.plural.clone(), ADOPTING_CR_VERBS);
        }
        grant(&kind.group, format!("{}/status", kind.plural), STATUS_VERBS);
        grant(
            &kind.group,
            format!("{}/finalizers", kind.plural),
            FINALIZER_VERBS,
        );
    }
    for child in children {
        grant(&child.group, child.resource.clone(), CHILD_VERBS);
    }
    grant("events.k8s.io", "events".to_string(), EVENT_VERBS);

    // One rule per (group, verb set), resources sorted: stable, short, easy to review.
    let mut grouped: BTreeMap<(String, Vec<&'static str>), Vec<String>> = BTreeMap::new();
    for (target, set) in verbs {
        let mut list: Vec<&'static str> = set.into_iter().collect();
        list.sort_by_key(|v| verb_rank(v));
        grouped
            .entry((target.group, list))
            .or_default()
            .push(target.resource);
    }
    let mut rules: Vec<Value> = grouped
        .into_iter()
        .map(|((group, verbs), resources)| {
            json!({"apiGroups": [group], "resources": resources, "verbs": verbs})
        })
        .collect();
    if options.install_crds {
        let names: Vec<&str> = kinds.iter().map(|k| k.crd_name.as_str()).collect();
        rules.push(json!({
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "resourceNames": names,
            "verbs": ["get", "patch"],
        }));
        // RBAC cannot limit `create` by name: the name is not known when it is authorized.
        rules.push(json!({
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["create"],
        }));
    }
    rules
}

/// Verbs in the order Kubernetes documentation lists them.
fn verb_rank(verb: &str) -> usize {
    const ORDER: &[&str] = &[
        "get", "list", "watch", "create", "patch", "update", "delete",
    ];
    ORDER.iter().position(|v| *v == verb).unwrap_or(ORDER.len())
}

/// The ServiceAccount the operator runs as.
pub(crate) fn service_account(options: &Options) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": options.name, "namespace": options.namespace, "labels": labels(options)},
    })
}

/// The ClusterRole with `rules`.
pub(crate) fn cluster_role(options: &Options, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": options.name, "labels": labels(options)},
        "rules": rules,
    })
}

/// Binds the ClusterRole to the ServiceAccount.
pub(crate) fn cluster_role_binding(options: &Options) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": options.name, "labels": labels(options)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": options.name},
        "subjects": [{"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}],
    })
}

/// The Role for leader election: the one Lease, in the operator's namespace (with sharding,
/// the shard Leases and the count record by name, and listing the namespace's Leases: a replica
/// reads every shard Lease by label before it changes the shard count).
pub(crate) fn leader_election_role(options: &Options) -> Value {
    let (names, unnamed_verbs) = match options.shards {
        None => (vec![options.lease_name.clone()], vec!["create"]),
        Some(shards) => {
            let prefix = super::workload::shard_lease_prefix(options);
            let mut names: Vec<String> = (0..shards).map(|i| format!("{prefix}-{i}")).collect();
            names.push(format!("{prefix}-count"));
            (names, vec!["create", "list"])
        }
    };
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": leader_election_name(options), "namespace": options.namespace, "labels": labels(options)},
        "rules": [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": names,
                "verbs": ["get", "update"],
            },
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": unnamed_verbs,
            },
        ],
    })
}

/// Binds the leader-election Role to the ServiceAccount.
pub(crate) fn leader_election_binding(options: &Options) -> Value {
    let name = leader_election_name(options);
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": options.namespace, "labels": labels(options)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}],
    })
}

fn leader_election_name(options: &Options) -> String {
    format!("{}-leader-election", options.name)
}
