//! Kubernetes rules that tera-operator and its sandbox both follow, written once: object and
//! label names, resource quantities, the built-in kinds and their API types (fields, required
//! fields, list semantics), typed checks of objects, structural-schema pruning, how JSON
//! numbers and timestamps are written.

pub mod check;
pub mod kinds;
pub mod names;
pub mod quantity;
pub mod structural;
pub mod typed;
pub mod types;

mod number;
mod time;

pub use number::whole_number;
pub use time::now;
