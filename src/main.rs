//! The `tera-operator` binary: the allocator, then the library's command line.

/// mimalloc: renders allocate many small maps, and glibc's malloc made them 30-60 % slower at a
/// higher peak RSS. It renders as fast as jemalloc did (`cargo bench --bench render`, within
/// noise or faster) and builds in seconds, where jemalloc's C build took a fifth of a clean
/// release build's CPU time. Without the `mimalloc` feature the system allocator is used (for
/// heap profilers, which do not see mimalloc's allocations).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `mi_option_purge_delay` (its index in mimalloc.h's `mi_option_t`, the same
/// in mimalloc 2 and 3), which libmimalloc-sys does not bind.
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(feature = "mimalloc")]
unsafe extern "C" {
    /// mimalloc.h: `void mi_option_set(mi_option_t option, long value)`.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Has mimalloc give memory it no longer uses back to the system at once, instead of after
/// its default delay (1 s in mimalloc 3): the bursts of a busy operator (many resources
/// created together) otherwise leave their peak resident (operator peak RSS at 1,000
/// resources 32.8 -> 31.1 MiB in `cargo bench --bench controller_scale`, at no measurable CPU).
#[cfg(feature = "mimalloc")]
fn tune_allocator() {
    // SAFETY: mi_option_set only stores an option's value (mimalloc reads it when it purges);
    // the index and the signature are mimalloc.h's.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> std::process::ExitCode {
    #[cfg(feature = "mimalloc")]
    tune_allocator();
    tera_operator::run_command_line()
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    unsafe extern "C" {
        /// mimalloc.h: `long mi_option_get(mi_option_t option)`.
        fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    }

    #[test]
    fn the_purge_delay_is_set_to_zero() {
        // SAFETY: reads an option's value.
        let before = unsafe { mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // mimalloc's default purge delay (ms) in version 3 and 2: the index is that option's.
            assert!(
                before == 1000 || before == 10,
                "option {} is not the purge delay: {before}",
                super::MI_OPTION_PURGE_DELAY
            );
        }
        super::tune_allocator();
        // SAFETY: reads an option's value.
        assert_eq!(unsafe { mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 0);
    }
}
