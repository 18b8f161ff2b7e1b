//! Which API group and resource each kind a chart may emit maps to, for RBAC rules.

use crate::config::{AllowedKind, Mapping};
use crate::crd::pluralize;

/// The API group and plural resource name of a kind, as an RBAC rule names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ResourceRef {
    /// API group (`""` for the core group).
    pub(crate) group: String,
    /// Plural resource name, e.g. `configmaps`.
    pub(crate) resource: String,
}

/// The group and resource of a kind a chart emits. The group is the entry's (the mapping
/// resolved it when it loaded); the plural is the one the entry names, else the built-in
/// table's, else that of the kind's CRD when another entry serves it (`plural_of`), else the
/// English plural of the lowercase kind, as CRD names are derived by default
/// (`ServiceMonitor` → `servicemonitors`, `Ingress` → `ingresses`, `Policy` → `policies`).
pub(crate) fn resolve(
    kind: &AllowedKind,
    mapping: &Mapping,
    plural_of: &dyn Fn(usize) -> Option<String>,
) -> ResourceRef {
    let resource = kind
        .plural
        .clone()
        .or_else(|| kind.builtin_kind().map(|b| b.plural.to_string()))
        .or_else(|| {
            mapping
                .watches
                .iter()
                .position(|w| w.kind == kind.kind && w.group == kind.group)
                .and_then(plural_of)
        })
        .unwrap_or_else(|| pluralize(&kind.kind.to_ascii_lowercase()));
    ResourceRef {
        group: kind.group.clone(),
        resource,
    }
}
