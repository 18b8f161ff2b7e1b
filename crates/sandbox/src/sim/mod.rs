//! Simulation of what the rest of a cluster would do: workload controllers, garbage collection.

pub(crate) mod gc;
pub(crate) mod workloads;
