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
//! - Resource Groups Tagging API: `GetResources` 15 a second ([`TAGGING_QUOTAS`]).
//!
//! The same tables size the sandbox's server-side buckets (`sandbox --aws-quotas`), so a pass
//! can be rehearsed at the pace a real account allows, and [`floor_seconds`] computes the least
//! time a set of calls can take under them.

use std::collections::{BTreeMap, HashMap};
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

/// Resource Groups Tagging API quotas: (action, bucket size, refill per second). The Tag Editor
/// user guide's "Service quotas" gives `GetResources` a "maximum of 15 calls per second" (no
/// burst is documented, so the bucket holds one second's worth).
pub const TAGGING_QUOTAS: &[(&str, u32, f64)] = &[("GetResources", 15, 15.0)];

/// The bucket for a Step Functions action not in [`SFN_QUOTAS`].
const SFN_FALLBACK: (u32, f64) = (100, 1.0);

/// One of AWS's default quotas: a token bucket that some calls share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// `apigateway` (the control plane's shared bucket), or `SERVICE:Operation`.
    pub name: &'static str,
    /// Bucket size (the burst).
    pub capacity: u32,
    /// Tokens gained per second.
    pub refill_per_sec: f64,
}

/// Every quota of the tables above, each once.
pub fn all_quotas() -> Vec<Quota> {
    let mut out = vec![Quota {
        name: "apigateway",
        capacity: APIGW_BURST,
        refill_per_sec: APIGW_RATE,
    }];
    for (service, table) in [
        ("apigateway", APIGW_OP_QUOTAS),
        ("states", SFN_QUOTAS),
        ("tagging", TAGGING_QUOTAS),
    ] {
        out.extend(table.iter().map(|&(op, capacity, refill_per_sec)| Quota {
            name: quota_name(service, op),
            capacity,
            refill_per_sec,
        }));
    }
    out
}

/// `SERVICE:Operation` as a `'static` name (the tables are static; anything else is `other`).
fn quota_name(service: &str, op: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "apigateway:CreateDeployment",
        "apigateway:CreateResource",
        "apigateway:CreateRestApi",
        "apigateway:DeleteRestApi",
        "apigateway:GetResources",
        "states:CreateStateMachine",
        "states:DeleteStateMachine",
        "states:DescribeStateMachine",
        "states:ListStateMachines",
        "states:ListTagsForResource",
        "states:TagResource",
        "states:UntagResource",
        "states:UpdateStateMachine",
        "tagging:GetResources",
    ];
    NAMES
        .iter()
        .find(|n| n.split_once(':') == Some((service, op)))
        .copied()
        .unwrap_or("other")
}

/// The documented quotas one `operation` call on `service` (`apigateway`, `states`, `tagging`)
/// takes a token from: API Gateway's shared bucket plus the operation's own, if it has one; a
/// Step Functions or Tagging action's own bucket. Empty for anything the tables do not name
/// (STS, executions, a Step Functions action with no documented bucket).
pub fn quotas_of(service: &str, operation: &str) -> Vec<Quota> {
    let own = |table: &[(&str, u32, f64)]| {
        table
            .iter()
            .find(|(op, _, _)| *op == operation)
            .map(|&(op, capacity, refill_per_sec)| Quota {
                name: quota_name(service, op),
                capacity,
                refill_per_sec,
            })
    };
    match service {
        "apigateway" => {
            let mut out: Vec<Quota> = own(APIGW_OP_QUOTAS).into_iter().collect();
            out.push(Quota {
                name: "apigateway",
                capacity: APIGW_BURST,
                refill_per_sec: APIGW_RATE,
            });
            out
        }
        "states" => own(SFN_QUOTAS).into_iter().collect(),
        "tagging" => own(TAGGING_QUOTAS).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The least time AWS's default quotas allow for `calls` (`(service, operation, count)`): every
/// bucket starts full and the slowest one decides, `(calls on it - bucket size) / refill`.
pub fn floor_seconds<'a>(calls: impl IntoIterator<Item = (&'a str, &'a str, u64)>) -> f64 {
    floor_seconds_at(1.0, calls)
}

/// [`floor_seconds`] under `share` of every quota ([`RateLimits::share_of_defaults`]).
pub fn floor_seconds_at<'a>(share: f64, calls: impl IntoIterator<Item = (&'a str, &'a str, u64)>) -> f64 {
    let share = clamp_share(share);
    let mut per_quota: BTreeMap<&'static str, (u64, Quota)> = BTreeMap::new();
    for (service, op, n) in calls {
        for q in quotas_of(service, op) {
            per_quota.entry(q.name).or_insert((0, q)).0 += n;
        }
    }
    per_quota
        .values()
        .map(|(n, q)| (*n as f64 - scaled_capacity(q.capacity, share)).max(0.0) / (q.refill_per_sec * share))
        .fold(0.0, f64::max)
}

/// A share in (0, 1]; anything else is the whole quota.
fn clamp_share(share: f64) -> f64 {
    if share.is_finite() && share > 0.0 {
        share.min(1.0)
    } else {
        1.0
    }
}

/// A bucket's size under a share of its quota (at least one token).
fn scaled_capacity(capacity: u32, share: f64) -> f64 {
    (f64::from(capacity) * share).floor().max(1.0)
}

/// The token count of one bucket, without a clock: the caller says how much time passed. Shared
/// by the client's waiting [`TokenBucket`] and the sandbox's answering one (`--aws-quotas`), so
/// both do the same arithmetic.
#[derive(Debug, Clone)]
pub struct Tokens {
    capacity: f64,
    refill_per_sec: f64,
    tokens: f64,
}

impl Tokens {
    /// A full bucket of `capacity` tokens gaining `refill_per_sec` a second (both at least 1
    /// and a positive rate; nonsense values are clamped so a bucket never blocks forever).
    pub fn new(capacity: u32, refill_per_sec: f64) -> Self {
        let capacity = f64::from(capacity.max(1));
        let refill_per_sec = if refill_per_sec.is_finite() && refill_per_sec > 0.0 {
            refill_per_sec
        } else {
            1.0
        };
        Tokens {
            capacity,
            refill_per_sec,
            tokens: capacity,
        }
    }

    /// Adds what `elapsed` seconds refill, up to the capacity.
    pub fn refill(&mut self, elapsed: f64) {
        self.tokens = (self.tokens + elapsed.max(0.0) * self.refill_per_sec).min(self.capacity);
    }

    /// How long until one token is there (zero when one is).
    pub fn wait_for_one(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.refill_per_sec)
        }
    }

    /// Whether a token is there.
    pub fn available(&self) -> bool {
        self.tokens >= 1.0
    }

    /// Takes one token (rounding may leave a hair under one after an exact wait: it counts).
    pub fn take(&mut self) {
        self.tokens = (self.tokens.max(1.0) - 1.0).max(0.0);
    }
}

/// An async token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: Tokens,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket (see [`Tokens::new`]).
    pub fn new(capacity: u32, refill_per_sec: f64) -> Self {
        TokenBucket {
            state: Mutex::new(BucketState {
                tokens: Tokens::new(capacity, refill_per_sec),
                last: Instant::now(),
            }),
        }
    }

    /// Takes one token, waiting until one is available.
    pub async fn acquire(&self) {
        let mut state = self.state.lock().await;
        Self::refill(&mut state);
        let wait = state.tokens.wait_for_one();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
            Self::refill(&mut state);
        }
        state.tokens.take();
    }

    fn refill(state: &mut BucketState) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens.refill(elapsed);
        state.last = now;
    }
}

/// Every bucket one client uses: API Gateway's shared one and per operation, Step Functions' and
/// the Tagging API's per action.
#[derive(Debug)]
pub struct RateLimits {
    buckets: HashMap<&'static str, TokenBucket>,
    sfn_other: TokenBucket,
}

impl RateLimits {
    /// AWS's default control-plane quotas (see the module documentation).
    pub fn aws_defaults() -> Self {
        Self::share_of_defaults(1.0)
    }

    /// `share` (0–1] of AWS's default quotas: every bucket's size and refill scaled, so that
    /// what waits for these buckets never uses more than that share of any quota (the daemon's
    /// resync uses half, leaving the rest to other tools in the account).
    pub fn share_of_defaults(share: f64) -> Self {
        let share = clamp_share(share);
        let scaled = |capacity: u32, rate: f64| {
            TokenBucket::new(scaled_capacity(capacity, share) as u32, rate * share)
        };
        RateLimits {
            buckets: all_quotas()
                .into_iter()
                .map(|q| (q.name, scaled(q.capacity, q.refill_per_sec)))
                .collect(),
            sfn_other: scaled(SFN_FALLBACK.0, SFN_FALLBACK.1),
        }
    }

    /// Waits for the tokens of one `operation` call on `service` (`apigateway`, `states` or
    /// `tagging`; other services are not limited).
    pub async fn acquire(&self, service: &str, operation: &str) {
        let quotas = quotas_of(service, operation);
        if quotas.is_empty() && service == "states" {
            self.sfn_other.acquire().await;
        }
        for q in quotas {
            if let Some(bucket) = self.buckets.get(q.name) {
                bucket.acquire().await;
            }
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

    #[test]
    fn floor_is_the_slowest_bucket() {
        // 1,000 machines in sync: DescribeStateMachine (200, then 20/s) decides: 40 s.
        let calls = [
            ("states", "DescribeStateMachine", 1000),
            ("tagging", "GetResources", 10),
            ("apigateway", "GetRestApis", 1),
        ];
        assert!((floor_seconds(calls) - 40.0).abs() < 1e-9);
        // One ListTagsForResource per machine (100, then 1/s): 900 s.
        assert!((floor_seconds([("states", "ListTagsForResource", 1000)]) - 900.0).abs() < 1e-9);
        // API Gateway calls share one bucket (40, then 10/s) besides their own.
        let apigw = [("apigateway", "GetRestApis", 30), ("apigateway", "PutMethod", 30)];
        assert!((floor_seconds(apigw) - 2.0).abs() < 1e-9);
        assert_eq!(floor_seconds([("sts", "GetCallerIdentity", 1000)]), 0.0);
        // Half of every quota: 100, then 10/s.
        let half = floor_seconds_at(0.5, [("states", "DescribeStateMachine", 1000)]);
        assert!((half - 90.0).abs() < 1e-9, "{half}");
    }

    #[tokio::test(start_paused = true)]
    async fn half_share_halves_burst_and_rate() {
        let limits = RateLimits::share_of_defaults(0.5);
        let start = Instant::now();
        for _ in 0..100 {
            limits.acquire("states", "DescribeStateMachine").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "half of the burst of 200");
        for _ in 0..10 {
            limits.acquire("states", "DescribeStateMachine").await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1010),
            "then 10 a second (half of 20): {waited:?}"
        );
        // The tagging bucket is limited too: 7 at once, then 7.5 a second.
        let start = Instant::now();
        for _ in 0..7 {
            limits.acquire("tagging", "GetResources").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limits.acquire("tagging", "GetResources").await;
        assert!(
            start.elapsed() >= Duration::from_millis(130),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn quotas_of_names_every_bucket_a_call_takes() {
        let names = |s, o| quotas_of(s, o).iter().map(|q| q.name).collect::<Vec<_>>();
        assert_eq!(
            names("apigateway", "CreateDeployment"),
            ["apigateway:CreateDeployment", "apigateway"]
        );
        assert_eq!(names("apigateway", "GetRestApis"), ["apigateway"]);
        assert_eq!(
            names("states", "DescribeStateMachine"),
            ["states:DescribeStateMachine"]
        );
        assert_eq!(names("tagging", "GetResources"), ["tagging:GetResources"]);
        assert!(names("states", "StartExecution").is_empty());
        assert!(all_quotas().iter().all(|q| q.name != "other"));
    }
}
