//! The `tera-operator` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, UserError};

mod cli;

/// mimalloc: renders allocate many small maps, and glibc's malloc made them 30-60 % slower at a
/// higher peak RSS. It renders as fast as jemalloc did (`cargo bench --bench render`, within
/// noise or faster) and builds in seconds, where jemalloc's C build took a fifth of a clean
/// release build's CPU time. Without the `mimalloc` feature the system allocator is used (for
/// heap profilers, which do not see mimalloc's allocations).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing(&cli.global);
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<UserError>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
