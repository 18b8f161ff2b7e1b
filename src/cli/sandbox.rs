//! `tera-operator sandbox`: run the in-memory API server, install CRDs, apply manifests, wait for Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use tera_sandbox::{Sandbox, SandboxConfig};

/// Arguments of `tera-operator sandbox`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the kubeconfig (default: under a temporary state directory).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Files or directories of manifests to apply after start (multi-document YAML; default:
    /// the bundled examples webserver.yaml, balancer.yaml and http-echo.yaml, when present).
    #[arg(long = "apply", value_name = "PATH")]
    apply: Vec<PathBuf>,
    /// Apply nothing by default (only what `--apply` names).
    #[arg(long)]
    no_examples: bool,
    /// Directory of CRDs to install first (skipped if missing).
    #[arg(long, default_value = "crds")]
    crds: PathBuf,
    /// Serve the bare API server, without running the operator against it.
    #[arg(long)]
    no_operator: bool,
    /// The operator's mapping file (as for `run`).
    #[arg(long, default_value = super::inputs::DEFAULT_CONFIG)]
    config: PathBuf,
    /// Apply a changed chart's CRD even when the change breaks live custom resources.
    #[arg(long)]
    force_crd_changes: bool,
    /// Where the operator serves /healthz, /readyz and /metrics (default: nowhere).
    #[arg(long)]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Serve HTTPS with a CA of the sandbox's own and require a bearer token (both written
    /// into the kubeconfig), for clients that refuse plain HTTP.
    #[arg(long)]
    tls: bool,
}

/// Starts the operator against the sandbox: the mapping in `args.config`, every namespace,
/// CRDs generated and applied for kinds the sandbox does not serve yet.
async fn start_operator(
    client: kube::Client,
    args: &Args,
) -> anyhow::Result<crate::controller::Operator> {
    let options = crate::controller::Options {
        config: args.config.clone(),
        metrics_addr: args.metrics_addr,
        install_crds: true,
        force_crd_changes: args.force_crd_changes,
        hot_reload: true,
        ..Default::default()
    };
    crate::controller::Operator::start(client, options)
        .await
        .map_err(super::user_error)
}

/// The bundled examples applied when `--apply` names nothing.
const DEFAULT_EXAMPLES: [&str; 3] = [
    "examples/webserver.yaml",
    "examples/balancer.yaml",
    "examples/http-echo.yaml",
];

/// What to apply: `--apply`, else the bundled examples that exist (unless `--no-examples`).
fn manifests(args: &Args) -> Vec<PathBuf> {
    if !args.apply.is_empty() || args.no_examples {
        return args.apply.clone();
    }
    DEFAULT_EXAMPLES
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

/// Runs the command.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let config = SandboxConfig {
        port: args.port,
        kubeconfig_path: args.kubeconfig.clone(),
        tls: args.tls,
        ..Default::default()
    };
    let sandbox = Sandbox::start(config).await.map_err(super::user_error)?;
    let crds = sandbox
        .install_crds(&args.crds)
        .map_err(super::user_error)?;
    for path in &manifests(&args) {
        let applied = sandbox.apply_path(path).map_err(super::user_error)?;
        for a in applied {
            println!("applied {a}");
        }
    }
    let kc = sandbox.kubeconfig_path().display().to_string();
    println!("sandbox API server listening on {}", sandbox.url());
    println!("kubeconfig: {kc}");
    if !crds.is_empty() {
        println!(
            "installed {} CRD(s) from {}",
            crds.len(),
            args.crds.display()
        );
    }
    println!("try: kubectl --kubeconfig {kc} get webservers,deploy,svc,cm");
    println!("press Ctrl-C to stop");
    let operator = if args.no_operator {
        None
    } else {
        println!("operator serving the kinds in {}", args.config.display());
        Some(start_operator(sandbox.client(), &args).await?)
    };
    super::signals::shutdown_signal().await?;
    if let Some(operator) = operator {
        operator.shutdown().await;
    }
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
