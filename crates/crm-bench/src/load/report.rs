//! Latencies per request kind, merged from the workers and summarised by sorting: count,
//! requests per second, nearest-rank p50, p95 and p99, and the answers that were not 2xx.

use std::collections::BTreeMap;
use std::time::Duration;

/// What a request did, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Board,
    BoxRead,
    BoxTimeline,
    BoxThreads,
    BoxComments,
    ThreadBoxes,
    ContactThreads,
    OrganizationBoxes,
    BoxPatch,
    CommentCreate,
    TaskCreate,
    MessageCreate,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Board => "GET pipelines/{p}/boxes?stage&limit=50",
            Kind::BoxRead => "GET boxes/{b}",
            Kind::BoxTimeline => "GET boxes/{b}/timeline",
            Kind::BoxThreads => "GET boxes/{b}/threads",
            Kind::BoxComments => "GET boxes/{b}/comments",
            Kind::ThreadBoxes => "GET threads/{t}/boxes",
            Kind::ContactThreads => "GET contacts/{c}/threads",
            Kind::OrganizationBoxes => "GET organizations/{o}/boxes",
            Kind::BoxPatch => "PATCH boxes/{b}",
            Kind::CommentCreate => "POST boxes/{b}/comments",
            Kind::TaskCreate => "POST boxes/{b}/tasks",
            Kind::MessageCreate => "POST messages",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Kind::BoxPatch | Kind::CommentCreate | Kind::TaskCreate | Kind::MessageCreate)
    }
}

/// One worker's (or all workers') measurements.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Microseconds per request, by kind.
    latencies: BTreeMap<Kind, Vec<u32>>,
    /// Answers other than 2xx by kind, the stale-version 409s of PATCH included.
    failures: BTreeMap<Kind, u64>,
    /// PATCHes answered 409 (another writer got there first), refetched and tried again.
    pub conflicts: u64,
}

impl Recorder {
    pub fn record(&mut self, kind: Kind, took: Duration, ok: bool) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.latencies.entry(kind).or_default().push(micros);
        if !ok {
            *self.failures.entry(kind).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        for (kind, mut values) in other.latencies {
            self.latencies.entry(kind).or_default().append(&mut values);
        }
        for (kind, count) in other.failures {
            *self.failures.entry(kind).or_default() += count;
        }
        self.conflicts += other.conflicts;
    }

    /// The Markdown table of the run, then the overall figures.
    pub fn print(mut self, measured: Duration) {
        let seconds = measured.as_secs_f64();
        println!("| request | count | req/s | p50 ms | p95 ms | p99 ms | not 2xx |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        let mut all = Vec::new();
        let mut writes = 0;
        for (kind, values) in &mut self.latencies {
            values.sort_unstable();
            let failures = self.failures.get(kind).copied().unwrap_or(0);
            println!(
                "| {} | {} | {:.0} | {} | {} | {} | {failures} |",
                kind.name(),
                values.len(),
                values.len() as f64 / seconds,
                ms(values, 0.50),
                ms(values, 0.95),
                ms(values, 0.99),
            );
            if kind.writes() {
                writes += values.len();
            }
            all.extend_from_slice(values);
        }
        all.sort_unstable();
        let failures: u64 = self.failures.values().sum();
        println!(
            "| **all** | {} | **{:.0}** | {} | {} | **{}** | {failures} |",
            all.len(),
            all.len() as f64 / seconds,
            ms(&all, 0.50),
            ms(&all, 0.95),
            ms(&all, 0.99),
        );
        println!();
        let context = self.latencies.get(&Kind::ThreadBoxes).map_or_else(|| "-".into(), |v| ms(v, 0.99));
        println!(
            "{:.0} requests/s over {seconds:.0} s, p99 {} ms; writes {:.1}% of requests; \
             thread context (GET threads/{{t}}/boxes) p99 {context} ms; {} stale-version 409s refetched",
            all.len() as f64 / seconds,
            ms(&all, 0.99),
            100.0 * writes as f64 / all.len().max(1) as f64,
            self.conflicts,
        );
    }
}

/// The nearest-rank percentile `p` of sorted microseconds, in milliseconds.
fn ms(sorted: &[u32], p: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    format!("{:.2}", f64::from(sorted[rank - 1]) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::ms;

    #[test]
    fn nearest_rank() {
        let values: Vec<u32> = (1..=100).map(|v| v * 1000).collect();
        assert_eq!(ms(&values, 0.50), "50.00");
        assert_eq!(ms(&values, 0.99), "99.00");
        assert_eq!(ms(&[1500], 0.99), "1.50");
        assert_eq!(ms(&[], 0.5), "-");
    }
}
