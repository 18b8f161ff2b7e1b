//! Kubernetes rules that tera-operator and its sandbox both follow, written once: object and
//! label names, resource quantities, the built-in kinds, structural-schema pruning, how JSON
//! numbers and timestamps are written.

pub mod kinds;
pub mod names;
pub mod quantity;
pub mod structural;

mod number;
mod time;

pub use number::whole_number;
pub use time::now;
