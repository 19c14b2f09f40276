//! Login rate limits: failed attempts per account and per client address in a sliding window.
//!
//! Kept in memory: a restart forgets them, and with several server nodes each counts its own.
//! That bounds online guessing to a few attempts per minute per node, which is the point.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per account within `WINDOW`.
pub const PER_ACCOUNT: usize = 5;
/// Failed attempts allowed per client address within `WINDOW`.
pub const PER_ADDRESS: usize = 20;
/// The sliding window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recent failures by account and by address.
#[derive(Default)]
pub struct LoginLimits {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimits {
    /// `Some(wait)` if either the account or the address has used up its attempts.
    pub fn blocked(&self, account: &str, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.lock();
        [(account_key(account), PER_ACCOUNT), (address_key(address), PER_ADDRESS)]
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = failures.get_mut(&key)?;
                prune(times, now);
                (times.len() >= limit).then(|| WINDOW.saturating_sub(now - times[0]))
            })
            .max()
    }

    /// Records one failed attempt.
    pub fn record_failure(&self, account: &str, address: IpAddr) {
        let now = Instant::now();
        let mut failures = self.lock();
        for key in [account_key(account), address_key(address)] {
            let times = failures.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
        }
        if failures.len() > 100_000 {
            failures.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
    }

    /// Forgets an account's failures after a successful login.
    pub fn record_success(&self, account: &str) {
        self.lock().remove(&account_key(account));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn account_key(account: &str) -> String {
    format!("account:{}", account.trim().to_lowercase())
}

fn address_key(address: IpAddr) -> String {
    format!("address:{address}")
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn an_account_is_blocked_after_its_failures_and_freed_by_success() {
        let limits = LoginLimits::default();
        for _ in 0..PER_ACCOUNT {
            assert!(limits.blocked("ana@acme.com", HOME).is_none());
            limits.record_failure("Ana@acme.com", HOME);
        }
        let wait = limits.blocked("ana@acme.com", HOME).unwrap();
        assert!(wait > Duration::from_secs(14 * 60) && wait <= WINDOW);
        assert!(limits.blocked("bob@acme.com", HOME).is_none(), "other accounts are not blocked");
        limits.record_success("ana@acme.com");
        assert!(limits.blocked("ana@acme.com", HOME).is_none());
    }

    #[test]
    fn an_address_is_blocked_across_accounts() {
        let limits = LoginLimits::default();
        for i in 0..PER_ADDRESS {
            limits.record_failure(&format!("user{i}@acme.com"), HOME);
        }
        assert!(limits.blocked("new@acme.com", HOME).is_some());
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(limits.blocked("new@acme.com", elsewhere).is_none());
    }
}
