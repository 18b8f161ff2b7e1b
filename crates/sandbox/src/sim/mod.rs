//! Simulation of what the rest of a cluster would do: workload controllers, garbage collection, the namespace controller.

pub(crate) mod gc;
pub(crate) mod namespaces;
pub(crate) mod workloads;
