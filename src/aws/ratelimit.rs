//! Client-side rate limits (SPEC §4): token buckets that keep us under AWS's control-plane
//! quotas, so a large reconcile slows down instead of being throttled.
//!
//! A [`TokenBucket`] holds up to `capacity` tokens and gains `refill_per_sec` tokens a second;
//! every request takes one token, waiting for it when the bucket is empty. Waiters are served in
//! order (the tokio mutex is fair and is held while a waiter sleeps for its token).
//!
//! The quotas are the documented defaults, per account and Region:
//! - API Gateway: "10 requests per second, burst 40" for the control-plane API, all calls
//!   together (SPEC §4) — one shared bucket. Operations with a stricter quota of their own also
//!   take a token from their own bucket ([`APIGW_OP_QUOTAS`], from the developer guide's "quotas
//!   for creating, deploying and managing an API"): `CreateDeployment` "1 request every 5 seconds
//!   per account", `CreateResource` 5 a second, `CreateRestApi` "1 request every 3 seconds" (the
//!   Regional/private figure; edge-optimized APIs are limited to one every 30 s, and a throttled
//!   create is retried), `GetResources` "5 requests every 2 seconds", `DeleteRestApi` "1 request
//!   every 30 seconds", so a large pass waits instead of being throttled.
//! - Step Functions: one bucket per API action, from the "API action throttling" table of the
//!   Step Functions developer guide (Service quotas → Other quotas). The figures are the same in
//!   every Region for the actions we call:
//!
//!   | Action               | Bucket | Refill/s |
//!   |----------------------|--------|----------|
//!   | CreateStateMachine   | 100    | 1        |
//!   | DeleteStateMachine   | 100    | 1        |
//!   | DescribeStateMachine | 200    | 20       |
//!   | ListStateMachines    | 100    | 5        |
//!   | ListTagsForResource  | 100    | 1        |
//!   | TagResource          | 200    | 1        |
//!   | UntagResource        | 200    | 1        |
//!   | UpdateStateMachine   | 100    | 1        |
//!
//!   An action missing from the table gets the most conservative bucket (100, 1/s).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// API Gateway control plane: bucket 40, 10 requests a second, every action together.
pub const APIGW_BURST: u32 = 40;
/// API Gateway control plane: steady rate per second.
pub const APIGW_RATE: f64 = 10.0;

/// API Gateway operations with their own, stricter quota: (operation, bucket size, refill per
/// second), taken in addition to the shared bucket.
pub const APIGW_OP_QUOTAS: &[(&str, u32, f64)] = &[
    ("CreateDeployment", 1, 1.0 / 5.0),
    ("CreateResource", 5, 5.0),
    ("CreateRestApi", 1, 1.0 / 3.0),
    ("DeleteRestApi", 1, 1.0 / 30.0),
    ("GetResources", 5, 2.5),
];

/// Step Functions per-action quotas: (action, bucket size, refill per second).
pub const SFN_QUOTAS: &[(&str, u32, f64)] = &[
    ("CreateStateMachine", 100, 1.0),
    ("DeleteStateMachine", 100, 1.0),
    ("DescribeStateMachine", 200, 20.0),
    ("ListStateMachines", 100, 5.0),
    ("ListTagsForResource", 100, 1.0),
    ("TagResource", 200, 1.0),
    ("UntagResource", 200, 1.0),
    ("UpdateStateMachine", 100, 1.0),
];

/// The bucket for a Step Functions action not in [`SFN_QUOTAS`].
const SFN_FALLBACK: (u32, f64) = (100, 1.0);

/// An async token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens gaining `refill_per_sec` a second (both at least 1
    /// and a positive rate; nonsense values are clamped so a bucket never blocks forever).
    pub fn new(capacity: u32, refill_per_sec: f64) -> Self {
        let capacity = f64::from(capacity.max(1));
        let refill_per_sec = if refill_per_sec.is_finite() && refill_per_sec > 0.0 {
            refill_per_sec
        } else {
            1.0
        };
        TokenBucket {
            capacity,
            refill_per_sec,
            state: Mutex::new(BucketState {
                tokens: capacity,
                last: Instant::now(),
            }),
        }
    }

    /// Takes one token, waiting until one is available.
    pub async fn acquire(&self) {
        let mut state = self.state.lock().await;
        self.refill(&mut state);
        if state.tokens < 1.0 {
            let wait = (1.0 - state.tokens) / self.refill_per_sec;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            self.refill(&mut state);
            // Rounding can leave a hair under one token after the exact wait.
            state.tokens = state.tokens.max(1.0);
        }
        state.tokens -= 1.0;
    }

    fn refill(&self, state: &mut BucketState) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        state.last = now;
    }
}

/// Every bucket one client uses: API Gateway's shared one and Step Functions' per action.
#[derive(Debug)]
pub struct RateLimits {
    apigw: TokenBucket,
    apigw_ops: HashMap<&'static str, TokenBucket>,
    sfn: HashMap<&'static str, TokenBucket>,
    sfn_other: TokenBucket,
}

impl RateLimits {
    /// AWS's default control-plane quotas (see the module documentation).
    pub fn aws_defaults() -> Self {
        RateLimits {
            apigw: TokenBucket::new(APIGW_BURST, APIGW_RATE),
            apigw_ops: APIGW_OP_QUOTAS
                .iter()
                .map(|&(op, size, rate)| (op, TokenBucket::new(size, rate)))
                .collect(),
            sfn: SFN_QUOTAS
                .iter()
                .map(|&(action, size, rate)| (action, TokenBucket::new(size, rate)))
                .collect(),
            sfn_other: TokenBucket::new(SFN_FALLBACK.0, SFN_FALLBACK.1),
        }
    }

    /// Waits for the token of one `operation` call on `service` (`apigateway` or `states`;
    /// other services are not limited).
    pub async fn acquire(&self, service: &str, operation: &str) {
        match service {
            "apigateway" => {
                if let Some(own) = self.apigw_ops.get(operation) {
                    own.acquire().await;
                }
                self.apigw.acquire().await
            }
            "states" => self.sfn.get(operation).unwrap_or(&self.sfn_other).acquire().await,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `n` tokens and returns how long that took (virtual time).
    async fn take(bucket: &TokenBucket, n: u32) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            bucket.acquire().await;
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn burst_passes_then_waits_one_over_rate() {
        let bucket = TokenBucket::new(APIGW_BURST, APIGW_RATE);
        assert_eq!(take(&bucket, APIGW_BURST).await, Duration::ZERO);
        let next = take(&bucket, 1).await;
        assert!(
            next >= Duration::from_millis(99) && next <= Duration::from_millis(101),
            "41st call waited {next:?}, want ~100ms"
        );
        // Steady state: 10 more calls take ~1s.
        let ten = take(&bucket, 10).await;
        assert!(
            ten >= Duration::from_millis(990) && ten <= Duration::from_millis(1010),
            "{ten:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refills_while_idle_up_to_capacity() {
        let bucket = TokenBucket::new(5, 1.0);
        assert_eq!(take(&bucket, 5).await, Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Only 5 tokens accumulated, not 60.
        assert_eq!(take(&bucket, 5).await, Duration::ZERO);
        let next = take(&bucket, 1).await;
        assert!(next >= Duration::from_millis(999), "{next:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_spaced() {
        let bucket = std::sync::Arc::new(TokenBucket::new(1, 10.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let b = bucket.clone();
                tokio::spawn(async move {
                    b.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.map(|at| at - start).unwrap_or(Duration::MAX));
        }
        done.sort();
        // One immediately, then one every 100ms.
        assert_eq!(done[0], Duration::ZERO);
        let last = done[4];
        assert!(
            last >= Duration::from_millis(399) && last <= Duration::from_millis(401),
            "{done:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sfn_buckets_are_per_action_and_apigw_shared() {
        let limits = RateLimits::aws_defaults();
        // CreateStateMachine: bucket 100, 1/s.
        let start = Instant::now();
        for _ in 0..100 {
            limits.acquire("states", "CreateStateMachine").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Another action has its own bucket: still immediate.
        limits.acquire("states", "DescribeStateMachine").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limits.acquire("states", "CreateStateMachine").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(999) && waited <= Duration::from_millis(1001),
            "{waited:?}"
        );

        // API Gateway: 40 calls of mixed operations drain the one bucket.
        let start = Instant::now();
        for i in 0..40 {
            let op = if i % 2 == 0 { "GetRestApis" } else { "PutMethod" };
            limits.acquire("apigateway", op).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limits.acquire("apigateway", "GetStages").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(99) && waited <= Duration::from_millis(101),
            "{waited:?}"
        );
        // Unlimited service.
        let start = Instant::now();
        for _ in 0..1000 {
            limits.acquire("sts", "GetCallerIdentity").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_rest_api_waits_30_s_between_calls() {
        let limits = RateLimits::aws_defaults();
        let start = Instant::now();
        limits.acquire("apigateway", "DeleteRestApi").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limits.acquire("apigateway", "DeleteRestApi").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(29_990) && waited <= Duration::from_millis(30_010),
            "{waited:?}"
        );
        // Other operations only share the common bucket.
        let start = Instant::now();
        limits.acquire("apigateway", "GetRestApis").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn one_deployment_every_5_s_and_get_resources_5_every_2_s() {
        let limits = RateLimits::aws_defaults();
        let start = Instant::now();
        limits.acquire("apigateway", "CreateDeployment").await;
        limits.acquire("apigateway", "CreateDeployment").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(4_990) && waited <= Duration::from_millis(5_010),
            "{waited:?}"
        );
        let start = Instant::now();
        for _ in 0..5 {
            limits.acquire("apigateway", "GetResources").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "a burst of 5");
        limits.acquire("apigateway", "GetResources").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(390) && waited <= Duration::from_millis(410),
            "then 2.5 a second: {waited:?}"
        );
    }

    #[test]
    fn quotas_table_is_sane() {
        for &(action, size, rate) in SFN_QUOTAS {
            assert!(size >= 100 && rate >= 1.0, "{action}");
        }
    }
}
