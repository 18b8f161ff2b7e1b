//! tera-operator: a generic Kubernetes operator driven by Tera chart templates.
//!
//! A mapping file ([`config`]) lists custom resource kinds and the chart ([`chart`]) that
//! renders each of them. [`render`] turns one custom resource into the objects to apply,
//! [`crd`] turns a chart's values schema into a CustomResourceDefinition, [`lint`] checks a
//! chart rule by rule, and [`controller`] keeps a cluster true to the rendered objects (one
//! active replica at a time, elected through a Lease). [`deploy`] derives the install
//! manifests from the mapping, and [`migrate`] turns a Helm release into the custom resource
//! that replaces it. The `tera-operator` binary parses the command line and calls these.
//!
//! The in-memory API server used by tests and `tera-operator sandbox` is the `tera-sandbox`
//! crate; the Kubernetes rules both follow (names, quantities, built-in kinds, structural
//! schemas) are the `k8s-rules` crate.

pub mod chart;
pub mod config;
pub mod controller;
pub mod crd;
pub mod deploy;
pub mod lint;
pub mod migrate;
pub mod render;

mod cli;

/// The `tera-operator` command line: parses the arguments, sets up logging, runs the
/// subcommand and maps its outcome to the exit code (a user error exits 1, anything else 2).
pub fn run_command_line() -> std::process::ExitCode {
    use clap::Parser as _;
    let cli = cli::Cli::parse();
    cli::init_tracing(&cli.global);
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<cli::UserError>().is_some() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::from(2)
            }
        }
    }
}
