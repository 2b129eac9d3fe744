//! `sandbox --aws-quotas` (SPEC §7): AWS's default control-plane quotas enforced server-side, with
//! the very tables and bucket arithmetic of the operator's client-side limits
//! ([`crate::aws::ratelimit`]), per Region as on AWS. A call that finds a bucket empty is refused
//! (the server answers it as AWS does: `ThrottlingException`, 429 `TooManyRequestsException`,
//! `ThrottledException`), so a pass can be rehearsed at the pace a real account allows.
//!
//! Only the documented buckets are enforced: Step Functions and Tagging API actions in the tables
//! and every API Gateway control-plane call. Executions, the invoke URL and STS are not limited.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::aws::ratelimit::{self, Quota, Tokens};

/// The server-side buckets and what they admitted and refused.
#[derive(Debug, Default)]
pub struct ServerQuotas {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (region, quota name) → tokens and when they were last refilled.
    buckets: HashMap<(String, &'static str), (Tokens, Instant)>,
    /// `service:Operation` → calls let through, since the last reset.
    admitted: BTreeMap<String, u64>,
    /// `service:Operation` → calls refused for want of a token, since the last reset.
    throttled: BTreeMap<String, u64>,
}

impl ServerQuotas {
    /// Takes a token from every bucket one call on `service` (`states`, `apigateway`,
    /// `tagging`) uses, or none: `Err(wait)` says how long until the emptiest one has a token.
    pub fn admit(&self, region: &str, service: &str, operation: &str) -> Result<(), Duration> {
        let quotas = ratelimit::quotas_of(service, operation);
        let name = format!("{service}:{operation}");
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if quotas.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for q in &quotas {
            let (tokens, last) = inner
                .buckets
                .entry((region.to_owned(), q.name))
                .or_insert_with(|| (Tokens::new(q.capacity, q.refill_per_sec), now));
            tokens.refill(now.saturating_duration_since(*last).as_secs_f64());
            *last = now;
            wait = wait.max(tokens.wait_for_one());
        }
        if !wait.is_zero() {
            *inner.throttled.entry(name).or_insert(0) += 1;
            return Err(wait);
        }
        for q in &quotas {
            if let Some((tokens, _)) = inner.buckets.get_mut(&(region.to_owned(), q.name)) {
                tokens.take();
            }
        }
        *inner.admitted.entry(name).or_insert(0) += 1;
        Ok(())
    }

    /// Forgets the counts (not the buckets: AWS's do not refill because someone looked).
    pub fn reset_counts(&self) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.admitted.clear();
        inner.throttled.clear();
    }

    /// `GET /_sandbox/quotas`: the buckets, the calls admitted and throttled since the last
    /// reset, and the least time AWS's quotas allow for the admitted calls (`floorSeconds`).
    pub fn to_json(&self) -> Value {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let floor = ratelimit::floor_seconds(inner.admitted.iter().filter_map(|(name, n)| {
            let (service, op) = name.split_once(':')?;
            Some((service, op, *n))
        }));
        json!({
            "enabled": true,
            "quotas": ratelimit::all_quotas().iter().map(quota_json).collect::<Vec<_>>(),
            "admitted": inner.admitted,
            "throttled": inner.throttled,
            "floorSeconds": (floor * 1000.0).round() / 1000.0,
        })
    }
}

fn quota_json(q: &Quota) -> Value {
    json!({"name": q.name, "capacity": q.capacity, "refillPerSecond": q.refill_per_sec})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_calls_are_refused_with_the_wait() {
        let q = ServerQuotas::default();
        for _ in 0..100 {
            assert_eq!(q.admit("us-east-1", "states", "CreateStateMachine"), Ok(()));
        }
        let wait = q.admit("us-east-1", "states", "CreateStateMachine").unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another action, another Region, an unlimited service: their own buckets.
        assert_eq!(q.admit("us-east-1", "states", "DescribeStateMachine"), Ok(()));
        assert_eq!(q.admit("eu-west-1", "states", "CreateStateMachine"), Ok(()));
        assert_eq!(q.admit("us-east-1", "states", "StartExecution"), Ok(()));
        let v = q.to_json();
        assert_eq!(v["admitted"]["states:CreateStateMachine"], 101);
        assert_eq!(v["throttled"]["states:CreateStateMachine"], 1);
        assert_eq!(
            v["floorSeconds"], 1.0,
            "101 creates: the 101st waits a second: {v}"
        );
    }

    #[test]
    fn api_gateway_calls_share_one_bucket_and_a_refusal_takes_no_token() {
        let q = ServerQuotas::default();
        assert_eq!(q.admit("us-east-1", "apigateway", "CreateDeployment"), Ok(()));
        // The deployment bucket (1 every 5 s) is empty: refused, and the shared one keeps its token.
        assert!(q.admit("us-east-1", "apigateway", "CreateDeployment").is_err());
        for _ in 0..39 {
            assert_eq!(q.admit("us-east-1", "apigateway", "GetRestApis"), Ok(()));
        }
        assert!(
            q.admit("us-east-1", "apigateway", "GetStages").is_err(),
            "40 in the burst"
        );
    }
}
