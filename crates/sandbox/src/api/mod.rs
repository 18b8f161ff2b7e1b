//! API semantics: the object store, the verbs on it, and the rules objects must follow.

pub(crate) mod apply;
pub(crate) mod convert;
pub(crate) mod defaults;
pub(crate) mod errors;
pub(crate) mod event_rules;
pub(crate) mod events;
pub(crate) mod hpa;
pub(crate) mod immutable;
pub(crate) mod owners;
pub(crate) mod patch;
pub(crate) mod resources;
pub(crate) mod rules;
pub(crate) mod schema;
pub(crate) mod selectors;
pub(crate) mod store;
pub(crate) mod typed;
pub(crate) mod validation;
pub(crate) mod verbs;
