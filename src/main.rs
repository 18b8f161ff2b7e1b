//! The `tera-operator` binary: the library's command line, on mimalloc.

/// mimalloc: renders allocate many small maps, and glibc's malloc made them 30-60 % slower at a
/// higher peak RSS. It renders as fast as jemalloc did (`cargo bench --bench render`, within
/// noise or faster) and builds in seconds, where jemalloc's C build took a fifth of a clean
/// release build's CPU time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tera_operator::run_command_line()
}
