//! Integration tests, one binary: the operator's subcommands, controller and leader election
//! against the sandbox; the sandbox against kube-rs, kubectl and Helm; rendering properties.

mod support;

mod broken_templates;
mod cli_diff;
mod cli_render;
mod cli_test;
mod controller_cli;
mod controller_faults;
mod controller_lifecycle;
mod controller_liveness;
mod controller_ownership;
mod controller_reload;
mod controller_requests;
mod crd_follow;
mod crds;
mod filter_injection;
mod hardening;
mod helm_convert;
mod helm_migrate;
mod injection;
mod leader;
mod logs;
mod manifests;
mod sandbox_bad_input;
mod sandbox_cli;
mod sandbox_helm;
mod sandbox_history;
mod sandbox_kinds;
mod sandbox_kube;
mod sandbox_kubectl;
mod sandbox_lifecycle;
mod sandbox_pods;
mod sandbox_probes;
mod sandbox_rollouts;
mod sandbox_rules;
mod sandbox_ssa;
mod sandbox_tls;
mod shard;
mod status_fields;
