//! [`Throttle`]: how fast the sender hands mail to the relay. A global rate (mails per
//! second, a token bucket) keeps the relay and the sending domain's reputation comfortable;
//! a cap on concurrent sends per recipient domain keeps big receivers from answering 421.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Limits shared by every sending task; clones share the limits.
#[derive(Clone, Debug)]
pub struct Throttle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rate: Option<Rate>,
    per_domain: usize,
    /// One semaphore per domain that has a send waiting or in flight; removed when the last
    /// permit goes, so the map holds only the domains being sent to right now.
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A token bucket kept as its "theoretical arrival time" (GCRA): each send reserves the
/// next slot one interval after the previous one, and up to `burst` slots may be taken
/// early. Reserving under the lock serves waiters in arrival order.
#[derive(Debug)]
struct Rate {
    interval: Duration,
    /// How far ahead of its slot a send may go: `burst - 1` intervals.
    tolerance: Duration,
    next: Mutex<Option<Instant>>,
}

impl Throttle {
    /// `per_second` mails a second overall, with bursts of up to one second's worth, and at
    /// most `per_domain` sends in flight to one recipient domain. 0 means unlimited for
    /// either.
    pub fn new(per_second: u32, per_domain: usize) -> Throttle {
        let rate = (per_second > 0).then(|| {
            let interval = Duration::from_secs(1) / per_second;
            Rate { interval, tolerance: interval * (per_second - 1), next: Mutex::new(None) }
        });
        Throttle { inner: Arc::new(Inner { rate, per_domain, domains: Mutex::new(HashMap::new()) }) }
    }

    /// Waits until one more mail to `domain` may be sent: first for a free slot for the
    /// domain (so a slow domain does not use up the global rate), then for the rate. The
    /// permit holds the domain's slot until it is dropped.
    ///
    /// A future dropped while waiting for the rate has used its turn: the rate comes out a
    /// little lower than configured, never higher.
    pub fn acquire(&self, domain: &str) -> impl Future<Output = Permit> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        async move {
            let slot = match inner.per_domain {
                0 => None,
                limit => {
                    let semaphore = Arc::clone(
                        inner
                            .domains
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .entry(domain.clone())
                            .or_insert_with(|| Arc::new(Semaphore::new(limit))),
                    );
                    // The semaphore is never closed, so this waits and then succeeds.
                    semaphore.acquire_owned().await.ok()
                }
            };
            if let Some(rate) = &inner.rate {
                let at = rate.reserve(Instant::now());
                tokio::time::sleep_until(at).await;
            }
            Permit { slot: slot.map(|permit| (Arc::clone(&inner), domain, permit)) }
        }
    }
}

impl Rate {
    /// Takes the next slot and says when it may be used.
    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = next.map_or(now, |next| next.max(now));
        *next = Some(slot + self.interval);
        slot.checked_sub(self.tolerance).map_or(now, |early| early.max(now))
    }
}

/// Leave to send one mail; dropping it frees the domain's slot.
#[derive(Debug)]
pub struct Permit {
    slot: Option<(Arc<Inner>, String, OwnedSemaphorePermit)>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some((inner, domain, permit)) = self.slot.take() else { return };
        let mut domains = inner.domains.lock().unwrap_or_else(PoisonError::into_inner);
        drop(permit);
        // Only the map's reference left: nobody holds or waits for this domain.
        if domains.get(&domain).is_some_and(|semaphore| Arc::strong_count(semaphore) == 1) {
            domains.remove(&domain);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn tracked_domains(throttle: &Throttle) -> usize {
        throttle.inner.domains.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Acquires `count` permits one after another and returns when each was granted,
    /// measured from the start.
    async fn grant_times(throttle: &Throttle, count: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..count {
            let _permit = throttle.acquire("example.com").await;
            times.push(start.elapsed());
        }
        times
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_allows_one_second_of_burst_then_spaces_sends() {
        let throttle = Throttle::new(10, 0);
        let times = grant_times(&throttle, 30).await;
        for (n, time) in times.iter().enumerate() {
            // The first 10 go at once; then one every 100 ms.
            let expected = Duration::from_millis(100) * n.saturating_sub(9) as u32;
            assert_eq!(*time, expected, "send {n}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_refills_to_one_burst_only() {
        let throttle = Throttle::new(4, 0);
        grant_times(&throttle, 4).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let times = grant_times(&throttle, 6).await;
        let ms = |ms| Duration::from_millis(ms);
        assert_eq!(times, [ms(0), ms(0), ms(0), ms(0), ms(250), ms(500)]);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_unlimited() {
        let throttle = Throttle::new(0, 0);
        let times = grant_times(&throttle, 1000).await;
        assert!(times.iter().all(|t| t.is_zero()));
        assert_eq!(tracked_domains(&throttle), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn each_domain_has_its_own_concurrency_limit() {
        let throttle = Throttle::new(0, 2);
        let in_flight: Arc<HashMap<&str, AtomicUsize>> =
            Arc::new([("a.example", AtomicUsize::new(0)), ("b.example", AtomicUsize::new(0))].into());
        let peak: Arc<HashMap<&str, AtomicUsize>> =
            Arc::new([("a.example", AtomicUsize::new(0)), ("b.example", AtomicUsize::new(0))].into());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for domain in ["a.example"; 6].into_iter().chain(["B.Example"; 2]) {
            let (throttle, in_flight, peak) = (throttle.clone(), Arc::clone(&in_flight), Arc::clone(&peak));
            tasks.push(tokio::spawn(async move {
                let _permit = throttle.acquire(domain).await;
                let key = if domain == "a.example" { "a.example" } else { "b.example" };
                let now = in_flight[key].fetch_add(1, Ordering::SeqCst) + 1;
                peak[key].fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                in_flight[key].fetch_sub(1, Ordering::SeqCst);
                (key, start.elapsed())
            }));
        }
        let mut finished = Vec::new();
        for task in tasks {
            finished.push(task.await.expect("task"));
        }
        assert_eq!(peak["a.example"].load(Ordering::SeqCst), 2);
        assert_eq!(peak["b.example"].load(Ordering::SeqCst), 2);
        let last = |key| finished.iter().filter(|(k, _)| *k == key).map(|(_, t)| *t).max();
        // Six sends two at a time take three seconds; the other domain is not held up.
        assert_eq!(last("a.example"), Some(Duration::from_secs(3)));
        assert_eq!(last("b.example"), Some(Duration::from_secs(1)));
        assert_eq!(tracked_domains(&throttle), 0, "idle domains are forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn a_permit_frees_its_slot_on_drop() {
        let throttle = Throttle::new(0, 1);
        let first = throttle.acquire("example.com").await;
        let waiting = tokio::spawn(throttle.acquire("example.com"));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished(), "the second send waits while the first holds the slot");
        assert_eq!(tracked_domains(&throttle), 1);
        drop(first);
        let second = waiting.await.expect("task");
        assert_eq!(tracked_domains(&throttle), 1);
        drop(second);
        assert_eq!(tracked_domains(&throttle), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn domain_slots_and_rate_combine() {
        let throttle = Throttle::new(2, 1);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for domain in ["a.example", "b.example", "c.example", "d.example"] {
            let throttle = throttle.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = throttle.acquire(domain).await;
                start.elapsed()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.expect("task"));
        }
        times.sort();
        let ms = |ms| Duration::from_millis(ms);
        // Four domains, so no domain waits; the rate lets two go at once, then one per 500 ms.
        assert_eq!(times, [ms(0), ms(0), ms(500), ms(1000)]);
    }
}
