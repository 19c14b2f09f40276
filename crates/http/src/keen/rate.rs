//! A request-rate bound per project on `/3.0`: a token bucket holding one second of requests.
//! Past it, requests are answered 429 `TooManyRequestsError` (a 4xx, as Keen clients retry
//! 5xx at once). Kept in memory per server process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Token buckets by project id. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RateLimiter {
    per_second: u32,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl RateLimiter {
    /// `per_second` of 0 turns the bound off.
    pub(crate) fn new(per_second: u32) -> RateLimiter {
        RateLimiter { per_second, buckets: Arc::default() }
    }

    /// Takes one request's token for `project`; false if there is none left.
    pub(crate) fn admit(&self, project: &str) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let rate = f64::from(self.per_second);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(project.to_owned()).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_rate_is_refused_per_project_and_zero_is_off() {
        let limiter = RateLimiter::new(3);
        let admitted = (0..5).filter(|_| limiter.admit("a")).count();
        assert_eq!(admitted, 3);
        assert!(limiter.admit("b"), "projects have their own buckets");
        let off = RateLimiter::new(0);
        assert!((0..10_000).all(|_| off.admit("a")));
    }
}
