//! The process's allocator: mimalloc, told to keep the memory it frees for reuse.
//!
//! mimalloc instead of the system allocator: the event path allocates and frees millions of
//! small JSON nodes a second on several threads (measured in bench/README.md).
//!
//! By default mimalloc gives freed memory back to the kernel about a second after it is freed
//! (a *purge*: `madvise`, then page faults when the memory is used again), and whichever thread
//! allocates next does the purging. After a bulk load the freed memory of the ingest (hundreds
//! of MiB of parsed events and encoded parts) was purged by the query threads, which made the
//! first queries after a load several times slower than on a restarted server (bench/README.md,
//! "fourth session"). So freed memory is kept: the resident size stays at its high-water
//! mark, which the next load or large query reuses.

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (libmimalloc-sys does not name it).
const PURGE_DELAY: mi_option_t = 15;

/// Turns purging off (a purge delay of -1). Called first thing in `main`, before any other
/// thread starts.
#[allow(unsafe_code)]
pub(crate) fn keep_freed_memory() {
    // SAFETY: mi_option_set stores one option's value; mimalloc reads the purge delay afresh
    // each time it would purge. No other thread runs yet.
    unsafe { mi_option_set(PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use libmimalloc_sys::mi_option_get;

    use super::*;

    /// The option number is purge_delay's: mimalloc's v3 default for it is 1,000 ms (no other
    /// option defaults to 1,000), and it reads -1 once set. nextest runs each test in its own
    /// process, so nothing set it before.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_turned_off() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("skipped: MIMALLOC_PURGE_DELAY is set in the environment");
            return;
        }
        // SAFETY: mi_option_get and mi_option_set read and store one option's value.
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, 1000);
        keep_freed_memory();
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, -1);
    }
}
