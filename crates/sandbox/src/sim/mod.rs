//! Simulation of what the rest of a cluster would do: workload controllers, garbage collection, the namespace controller.

pub(crate) mod cron;
pub(crate) mod cronjobs;
pub(crate) mod deployments;
pub(crate) mod gc;
pub(crate) mod namespaces;
pub(crate) mod observed;
pub(crate) mod workloads;
