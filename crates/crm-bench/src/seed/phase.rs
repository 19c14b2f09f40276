//! Running one seeding phase: many tasks taking the next item from a shared counter, a
//! progress line every few seconds, and the phase's rate at the end. A write the database
//! refused for being busy is tried again, so SQLite's serial writers can be driven by several
//! tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use sb_core::CoreError;
use sb_types::ErrorKind;

/// How often a phase prints its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Attempts at one write before a busy database counts as a failure.
const ATTEMPTS: u32 = 30;

/// What a phase did: its items' results in item order, the units it counted (messages for the
/// threads phase, items otherwise) and how long it took.
pub(crate) struct Done<T> {
    pub results: Vec<T>,
    pub units: u64,
    pub elapsed: Duration,
}

impl<T> Done<T> {
    /// Units per second.
    pub fn rate(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `op` on the items `0..items` from `concurrency` tasks; `op` answers its result and how
/// many units it wrote. `total_units` is only for the progress line. Stops at the first error.
pub(crate) async fn run<T, F, Fut>(
    label: &'static str,
    items: usize,
    total_units: u64,
    concurrency: usize,
    op: F,
) -> anyhow::Result<Done<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(T, u64), CoreError>> + Send,
{
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let units = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, units, failed, op) = (next.clone(), units.clone(), failed.clone(), op.clone());
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let item = next.fetch_add(1, Ordering::Relaxed);
                if item >= items || failed.load(Ordering::Relaxed) {
                    return Ok(results);
                }
                match op(item).await {
                    Ok((result, done)) => {
                        results.push((item, result));
                        units.fetch_add(done, Ordering::Relaxed);
                    }
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(anyhow::Error::new(error).context(format!("{label}: item {item}")));
                    }
                }
            }
        }));
    }
    let progress = tokio::spawn(report_progress(label, total_units, units.clone(), started));
    let mut results = Vec::with_capacity(items);
    let mut first_error = None;
    for worker in workers {
        match worker.await.context("a seeding task panicked")? {
            Ok(part) => results.extend(part),
            Err(error) => first_error = first_error.or(Some(error)),
        }
    }
    progress.abort();
    if let Some(error) = first_error {
        return Err(error);
    }
    results.sort_unstable_by_key(|(item, _)| *item);
    let done = Done {
        results: results.into_iter().map(|(_, result)| result).collect(),
        units: units.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    };
    println!("{label}: {} in {:.1} s, {:.0}/s", done.units, done.elapsed.as_secs_f64(), done.rate());
    Ok(done)
}

async fn report_progress(label: &'static str, total: u64, units: Arc<AtomicU64>, started: Instant) {
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let done = units.load(Ordering::Relaxed);
        let rate = done as f64 / started.elapsed().as_secs_f64();
        println!("{label}: {done}/{total} ({rate:.0}/s)");
    }
}

/// Whether a write that failed with `error` on try `attempt` should be tried again: SQLite
/// answers "database is locked" when a deferred transaction cannot become the writer.
pub(crate) fn busy(error: &CoreError, attempt: u32) -> bool {
    error.kind() == ErrorKind::Unavailable && attempt < ATTEMPTS
}

/// How long to wait before try `attempt + 1`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(2 * u64::from(attempt))
}

/// Evaluates a service call (an expression ending in `.await`) until it succeeds or fails for
/// another reason than a busy database.
macro_rules! retry {
    ($call:expr) => {{
        let mut attempt = 1;
        loop {
            match $call {
                Err(error) if $crate::seed::phase::busy(&error, attempt) => {
                    tokio::time::sleep($crate::seed::phase::backoff(attempt)).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry;
