//! Which API group and resource each kind a chart may emit maps to, for RBAC rules.

use crate::config::Mapping;

/// The API group and plural resource name of a kind, as an RBAC rule names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ResourceRef {
    /// API group (`""` for the core group).
    pub(crate) group: String,
    /// Plural resource name, e.g. `configmaps`.
    pub(crate) resource: String,
}

/// The namespaced built-in kinds a chart may emit, by name (for error messages).
pub(crate) fn namespaced_builtin_kinds() -> impl Iterator<Item = &'static str> {
    k8s_rules::kinds::BUILTIN
        .iter()
        .filter(|k| k.namespaced)
        .map(|k| k.kind)
}

/// The group and resource of a kind a chart emits: a built-in kind, or a kind served by
/// another entry of the mapping (`plural_of` gives that entry's plural). `None` when unknown.
pub(crate) fn resolve(
    kind: &str,
    mapping: &Mapping,
    plural_of: &dyn Fn(&str) -> Option<String>,
) -> Option<ResourceRef> {
    if let Some(builtin) = k8s_rules::kinds::find(kind).filter(|k| k.namespaced) {
        return Some(ResourceRef {
            group: builtin.group.to_string(),
            resource: builtin.plural.to_string(),
        });
    }
    let watch = mapping.watches.iter().find(|w| w.kind == kind)?;
    Some(ResourceRef {
        group: watch.group.clone(),
        resource: plural_of(kind)?,
    })
}
