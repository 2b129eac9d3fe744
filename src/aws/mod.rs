//! AWS access: clients built from the standard configuration chain with our overrides, thin
//! wrappers that return our own types, and one error type that knows whether a failure is
//! transient. Nothing here decides what to change; `live`, `plan` and `apply` do.
//!
//! Retries: the SDK's own retries are disabled (`RetryConfig::disabled()`), so the backoff in
//! [`retry`] (backon, exponential with jitter, bounded by the pass deadline) is the one policy.

mod apigw;
pub mod ratelimit;
mod sfn;
pub mod tagging;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

pub use tagging::TagListing;

/// How to reach AWS: plain values from the command line, resolved once by [`Aws::connect`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--region`; else the standard chain.
    pub region: Option<String>,
    /// `--endpoint-url`; else `AWS_ENDPOINT_URL*` or AWS.
    pub endpoint_url: Option<String>,
    /// `--account-id`; else STS `GetCallerIdentity`.
    pub account_id: Option<String>,
    /// Client-side rate limits (off against the sandbox).
    pub rate_limits: bool,
    /// Talking to the built-in sandbox: static test credentials, region `us-east-1` unless given.
    pub sandbox: bool,
}

/// A failed AWS call: the service's error code and message, and whether retrying may help.
/// Shown as `Code: message (Operation)`, never as the SDK's Debug output.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message} ({operation})")]
pub struct AwsError {
    /// `states`, `apigateway`, `tagging` or `sts`.
    pub service: &'static str,
    /// The API operation, e.g. `DescribeStateMachine`.
    pub operation: &'static str,
    /// The AWS error code (`AccessDeniedException`), or a transport category (`Timeout`).
    pub code: String,
    /// The AWS message.
    pub message: String,
    transient: bool,
    /// The request may have been carried out: the connection dropped after it was sent, it timed
    /// out, or the service answered 5xx. A create that failed so is never re-sent before looking
    /// for what it may have made (SPEC §4).
    outcome_unknown: bool,
}

impl AwsError {
    /// Throttling, 5xx, timeouts, connection failures and `ConflictException` are transient.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Whether the failed request may nevertheless have been carried out.
    pub fn outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }

    /// Whether AWS refused the call for its rate (a quota), not for what it asked.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "ThrottlingException"
                | "Throttling"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    }

    /// Whether AWS answered with this error code.
    pub fn is_code(&self, code: &str) -> bool {
        self.code == code
    }

    /// Builds an error by hand (configuration problems, unexpected responses).
    pub fn permanent(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            code: code.into(),
            message: message.into(),
            transient: false,
            outcome_unknown: false,
        }
    }

    /// Classifies an SDK error.
    pub fn from_sdk<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        // (code, message, transient, outcome unknown)
        let (code, message, transient, unknown) = match &err {
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), "request timed out".to_owned(), true, true),
            SdkError::DispatchFailure(f) => (
                "ConnectionFailure".to_owned(),
                f.as_connector_error()
                    .map(|e| error_chain(e))
                    .unwrap_or_else(|| error_chain(&err)),
                true,
                true,
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".to_owned(),
                "unreadable response".to_owned(),
                true,
                true,
            ),
            SdkError::ServiceError(se) => {
                let status = se.raw().status().as_u16();
                let code = se.err().code().unwrap_or("Unknown").to_owned();
                let message = se.err().message().unwrap_or("").to_owned();
                let transient = status >= 500 || status == 429 || is_transient_code(&code);
                (code, message, transient, status >= 500)
            }
            _ => ("ClientError".to_owned(), error_chain(&err), false, false),
        };
        AwsError {
            service,
            operation,
            code,
            message,
            transient,
            outcome_unknown: unknown,
        }
    }
}

fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ConflictException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalServerError"
            | "InternalFailure"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

/// Records a finished call in the metrics and turns SDK errors into [`AwsError`].
pub(crate) fn record<T, E>(
    service: &'static str,
    operation: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<T, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(v) => {
            crate::metrics::global().aws_request(service, operation, "success");
            Ok(v)
        }
        Err(e) => {
            let e = AwsError::from_sdk(service, operation, e);
            crate::metrics::global().aws_request(service, operation, &e.code);
            Err(e)
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, `deadline` passes or a shutdown's retry grace
/// is over (then the last transient error is returned). Exponential backoff from 50 ms to 5 s with
/// jitter.
pub async fn retry<T, F, Fut>(deadline: Instant, op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    op.retry(backoff_policy())
        .when(|e: &AwsError| e.is_transient() && may_retry(deadline))
        .await
}

/// Backoff delays for one call's retries: exponential from 50 ms to 5 s, with jitter.
fn backoff_policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
}

/// Whether another attempt may still be made.
fn may_retry(deadline: Instant) -> bool {
    Instant::now() < deadline && !crate::shutdown::retries_over()
}

/// Makes something whose create call is not safe to repeat blindly (SPEC §4): `create` is sent;
/// when its outcome is unknown (a lost answer, a timeout, a 5xx), `find` looks for what it may
/// have made before anything is sent again; a `ConflictException` means the thing exists, so
/// `find` reads it. `find` returns `None` when there is nothing (yet). Transient failures are
/// retried with [`retry`]'s policy until `deadline`.
pub async fn create_once<T, C, CF, F, FF>(
    deadline: Instant,
    mut create: C,
    mut find: F,
) -> Result<T, AwsError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, AwsError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, AwsError>>,
{
    use backon::BackoffBuilder as _;
    let mut delays = backoff_policy().build();
    loop {
        let err = match create().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let exists = err.is_code("ConflictException");
        if (exists || err.outcome_unknown())
            && let Some(found) = retry(deadline, &mut find).await?
        {
            tracing::info!(operation = err.operation, code = %err.code, "found what an earlier attempt made; not sent again");
            return Ok(found);
        }
        if !(err.is_transient() && may_retry(deadline)) {
            return Err(err);
        }
        tokio::time::sleep(delays.next().unwrap_or(Duration::from_secs(5))).await;
    }
}

/// Deletes something, retrying transient failures: a `NotFoundException` (it is gone already,
/// perhaps by an earlier attempt whose answer was lost) is success.
pub async fn delete_idempotent<F, Fut>(deadline: Instant, op: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    match retry(deadline, op).await {
        Err(e) if e.is_code("NotFoundException") || e.is_code("StateMachineDoesNotExist") => Ok(()),
        other => other,
    }
}

/// Per operation: calls made, time spent waiting for client-side rate-limit tokens, and calls
/// AWS answered with a throttling error (then retried).
#[derive(Debug, Default)]
struct Pacing {
    by_op: std::sync::Mutex<std::collections::BTreeMap<(&'static str, &'static str), OpPacing>>,
}

/// (calls, time waited for tokens, calls throttled)
type OpPacing = (u64, Duration, u64);

impl Pacing {
    fn add(&self, service: &'static str, operation: &'static str, waited: Duration, throttled: bool) {
        let mut map = self
            .by_op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry((service, operation)).or_default();
        entry.0 += 1;
        entry.1 += waited;
        entry.2 += u64::from(throttled);
    }

    fn snapshot(&self) -> Vec<crate::report::Paced> {
        let map = self
            .by_op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(
                |(&(service, operation), &(calls, waited, throttled))| crate::report::Paced {
                    service: service.to_owned(),
                    operation: operation.to_owned(),
                    calls,
                    waited_seconds: (waited.as_secs_f64() * 1000.0).round() / 1000.0,
                    throttled,
                },
            )
            .collect()
    }
}

/// Connected clients plus the region, partition and account they act in.
#[derive(Debug, Clone)]
pub struct Aws {
    pub sfn: aws_sdk_sfn::Client,
    pub apigw: aws_sdk_apigateway::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub region: String,
    pub partition: String,
    pub account_id: String,
    /// Client-side rate limits; `None` when `Settings.rate_limits` is off (the sandbox).
    limits: Option<Arc<ratelimit::RateLimits>>,
    /// A second set of buckets the calls of this handle also wait for: a share of every quota
    /// (the daemon's resync, [`Aws::with_quota_share`]).
    share: Option<Arc<ratelimit::RateLimits>>,
    /// What the calls of this handle waited for and how often AWS throttled them.
    pacing: Arc<Pacing>,
}

impl Aws {
    /// Loads the standard configuration chain with our overrides and resolves the account
    /// (STS `GetCallerIdentity`, retried like every other call until `deadline`).
    pub async fn connect(settings: &Settings, deadline: Instant) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        } else if settings.sandbox {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        if settings.sandbox {
            loader = loader.credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "sandbox", "sandbox", None, None, "sandbox",
            ));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            AwsError::permanent(
                "sts",
                "Config",
                "NoRegion",
                "no AWS region: set AWS_REGION or --region",
            )
        })?;
        // Before any call: with no credentials every call would fail as a transient dispatch
        // failure and be retried until --timeout.
        if !settings.sandbox {
            check_credentials(&config).await?;
        }
        let account_id = match &settings.account_id {
            Some(id) => id.clone(),
            None => {
                let sts = aws_sdk_sts::Client::new(&config);
                let out = retry(deadline, || async {
                    record("sts", "GetCallerIdentity", sts.get_caller_identity().send().await)
                })
                .await?;
                out.account().map(str::to_owned).ok_or_else(|| {
                    AwsError::permanent(
                        "sts",
                        "GetCallerIdentity",
                        "NoAccount",
                        "caller identity has no account",
                    )
                })?
            }
        };
        Ok(Aws {
            sfn: aws_sdk_sfn::Client::new(&config),
            apigw: aws_sdk_apigateway::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            partition: partition_of(&region).to_owned(),
            region,
            account_id,
            limits: settings
                .rate_limits
                .then(|| Arc::new(ratelimit::RateLimits::aws_defaults())),
            share: None,
            pacing: Arc::default(),
        })
    }

    /// The same clients, with pacing counted afresh (one pass's figures for its report).
    #[must_use]
    pub fn fresh_pacing(&self) -> Aws {
        Aws {
            pacing: Arc::default(),
            ..self.clone()
        }
    }

    /// The same clients, whose calls also wait for `limits` (a share of every quota, see
    /// [`ratelimit::RateLimits::share_of_defaults`]). Nothing changes when rate limits are off.
    #[must_use]
    pub fn with_quota_share(&self, limits: Arc<ratelimit::RateLimits>) -> Aws {
        Aws {
            share: self.limits.is_some().then_some(limits),
            ..self.clone()
        }
    }

    /// What the calls made through this handle (and its clones) waited for, by operation.
    pub fn pacing(&self) -> Vec<crate::report::Paced> {
        self.pacing.snapshot()
    }

    /// Whether calls wait for client-side rate-limit tokens.
    pub fn rate_limited(&self) -> bool {
        self.limits.is_some()
    }

    /// Sends one request: waits for its rate-limit token (when limits are on), then awaits
    /// `send` (an SDK `send()` future, which does nothing until polled) and records the result.
    pub(crate) async fn call<T, E, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        send: F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let started = Instant::now();
        if let Some(limits) = &self.limits {
            limits.acquire(service, operation).await;
        }
        if let Some(share) = &self.share {
            share.acquire(service, operation).await;
        }
        let waited = started.elapsed();
        let result = record(service, operation, send.await);
        let throttled = matches!(&result, Err(e) if e.is_throttling());
        self.pacing.add(service, operation, waited, throttled);
        result
    }

    /// The deterministic ARN of a state machine named `name` (no list call needed).
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{}",
            self.partition, self.region, self.account_id, name
        )
    }
}

/// How long the credential chain may take (SSO, web identity and instance roles make calls).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves credentials once through the configured chain, so "none found" is one clear error
/// within seconds instead of retried dispatch failures.
async fn check_credentials(config: &aws_config::SdkConfig) -> Result<(), AwsError> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sfn::config::ProvideCredentials;
    let failed = |code: &str, message: String| AwsError::permanent("sts", "LoadCredentials", code, message);
    let Some(provider) = config.credentials_provider() else {
        return Err(failed("NoCredentials", no_credentials_message()));
    };
    match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(CredentialsError::CredentialsNotLoaded(_))) => {
            Err(failed("NoCredentials", no_credentials_message()))
        }
        // The chain stops at the first provider that fails rather than finds nothing (an
        // instance metadata service that refuses, an expired SSO session): say which, in one line.
        Ok(Err(e)) => Err(failed(
            "NoCredentials",
            format!(
                "{}; the chain stopped at: {}",
                no_credentials_message(),
                error_chain(&e)
            ),
        )),
        Err(_) => Err(failed(
            "CredentialsTimeout",
            format!(
                "loading AWS credentials took over {} s; {}",
                CREDENTIALS_TIMEOUT.as_secs(),
                no_credentials_message()
            ),
        )),
    }
}

/// An error and its sources as one line of their `Display` forms (the SDK's errors nest, and
/// their `Debug` output is not for people).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Where the standard chain looked, for the "no credentials" error.
fn no_credentials_message() -> String {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    format!(
        "no AWS credentials found; looked in: the environment (AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY), profile {profile:?} in ~/.aws/credentials and ~/.aws/config (SSO and \
         credential_process included), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS container \
         endpoint and the EC2 instance metadata service"
    )
}

/// The AWS partition of a region.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn codes_classify() {
        assert!(is_transient_code("ThrottlingException"));
        assert!(is_transient_code("ConflictException"));
        assert!(!is_transient_code("AccessDeniedException"));
        assert!(!AwsError::permanent("states", "X", "AccessDeniedException", "no").is_transient());
    }
}
