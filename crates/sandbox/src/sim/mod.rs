//! Simulation of what the rest of a cluster would do: workload controllers and a kubelet, garbage collection, the namespace controller.

pub(crate) mod cron;
pub(crate) mod cronjobs;
pub(crate) mod deployments;
pub(crate) mod gc;
pub(crate) mod jobs;
pub(crate) mod kubelet;
pub(crate) mod namespaces;
pub(crate) mod observed;
pub(crate) mod replicasets;
pub(crate) mod rollout;
pub(crate) mod statefulsets;
pub(crate) mod timing;
pub(crate) mod workloads;
