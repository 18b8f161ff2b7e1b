//! Keeping a cluster true to the rendered objects; on this branch only adoption of existing objects.

pub mod adopt;
