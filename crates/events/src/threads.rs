//! Work cut into runs, one per thread: the first run on the calling thread, each other on a
//! scoped thread of its own (an extraction's filter scan, the columns it reads, the events it
//! writes).

use std::panic::resume_unwind;

/// `work` done on each of `runs` at once, the first on this thread and every other on a thread
/// of its own; the results in the runs' order. A thread's panic is raised again here.
pub(crate) fn on_threads<T: Sync, R: Send>(runs: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let Some((first, others)) = runs.split_first() else { return Vec::new() };
    std::thread::scope(|scope| {
        let others: Vec<_> = others.iter().map(|run| scope.spawn(|| work(run))).collect();
        let mut all = vec![work(first)];
        all.extend(others.into_iter().map(|other| other.join().unwrap_or_else(|panic| resume_unwind(panic))));
        all
    })
}
