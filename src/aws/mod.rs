//! AWS access: clients built from the standard configuration chain with our overrides, thin
//! wrappers that return our own types, and one error type that knows whether a failure is
//! transient. Nothing here decides what to change; `live`, `plan` and `apply` do.
//!
//! Retries: the SDK's own retries are disabled (`RetryConfig::disabled()`), so the backoff in
//! [`retry`] (backon, exponential with jitter, bounded by the pass deadline) is the one policy.
//! An endpoint that cannot be reached is never silent: each retry after a connection failure and
//! each 7 s without an answer is a WARN line naming the URL; a refused connection to an endpoint
//! the user named fails [`Aws::connect`] within seconds, with a hint.

mod apigw;
mod cloudwatch;
mod endpoint;
pub mod ratelimit;
mod retry;
mod sfn;
pub mod tagging;
mod versions;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

pub use cloudwatch::ALARMS_PER_CALL;
use endpoint::{Endpoints, endpoint_url};
use retry::{awaited, retry_while};
pub use retry::{create_once, delete_idempotent, retry};
pub use tagging::TagListing;
pub use versions::version_of;

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
/// Shown as `Code: message (Operation)` (plus ` — hint` when there is one), never as the SDK's
/// Debug output.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message} ({operation}){}", .extra.as_ref().and_then(|x| x.hint.as_ref()).map(|h| format!(" — {h}")).unwrap_or_default())]
pub struct AwsError {
    /// `states`, `apigateway`, `tagging`, `monitoring` or `sts`.
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
    /// The endpoint refused the connection (nothing listens there).
    refused: bool,
    /// Where the call went and what the user can do (boxed: errors travel in every `Result`).
    extra: Option<Box<Extra>>,
}

/// The rarer parts of an [`AwsError`].
#[derive(Debug, Clone, Default)]
struct Extra {
    /// The URL the call went to (for the retry warnings).
    endpoint: Option<Arc<str>>,
    /// What the user can do about it, shown after the message.
    hint: Option<String>,
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

    /// Whether the call never reached a service: a connection that failed or timed out.
    pub fn is_connection_failure(&self) -> bool {
        matches!(self.code.as_str(), "ConnectionFailure" | "Timeout")
    }

    /// Whether the connection was refused (`ECONNREFUSED`: nothing listens at the endpoint).
    pub fn is_refused(&self) -> bool {
        self.refused
    }

    /// The URL the call went to, when known.
    pub fn endpoint(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.endpoint.as_deref())
    }

    /// The same error, naming the URL the call went to.
    #[must_use]
    pub fn at(mut self, endpoint: &Arc<str>) -> Self {
        self.extra.get_or_insert_default().endpoint = Some(Arc::clone(endpoint));
        self
    }

    /// The same error with a hint for the user, shown after the message.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.extra.get_or_insert_default().hint = Some(hint.into());
        self
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
            refused: false,
            extra: None,
        }
    }

    /// Classifies an SDK error.
    pub fn from_sdk<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let refused = matches!(&err, SdkError::DispatchFailure(_)) && is_refused(&err);
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
            refused,
            extra: None,
        }
    }
}

/// Whether an error (or one of its sources) is a refused TCP connection.
fn is_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    error_chain(err).contains("Connection refused")
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
    pub cloudwatch: aws_sdk_cloudwatch::Client,
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
    /// The URL each service's calls go to (for the warnings and errors that name it).
    endpoints: Arc<Endpoints>,
}

/// Time a refused connection to an explicitly given endpoint is retried at start-up (a sandbox
/// started a moment ago), before failing with a hint instead of waiting for `--timeout`.
const REFUSED_GRACE: Duration = Duration::from_secs(3);

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
                let (url, explicit) = endpoint_url(settings, &config, "sts", &region);
                let url: Arc<str> = Arc::from(url);
                // A refused connection to an endpoint the user named (a sandbox that is not
                // running) will not fix itself before --timeout: fail within seconds, with a hint.
                let grace_over = Instant::now() + REFUSED_GRACE;
                let out = retry_while(
                    deadline,
                    |e| !(explicit && e.is_refused() && Instant::now() >= grace_over),
                    || async {
                        // A read: given up at --timeout rather than at the attempt timeout.
                        let call = awaited(&url, "GetCallerIdentity", sts.get_caller_identity().send());
                        match tokio::time::timeout_at(deadline, call).await {
                            Ok(answer) => record("sts", "GetCallerIdentity", answer).map_err(|e| e.at(&url)),
                            Err(_) => Err(AwsError::permanent(
                                "sts",
                                "GetCallerIdentity",
                                "Timeout",
                                "no answer before --timeout",
                            )
                            .at(&url)),
                        }
                    },
                )
                .await
                .map_err(|e| {
                    if explicit && e.is_refused() {
                        e.with_hint(format!(
                            "is the sandbox running at {url}? start one with `sfn-operator sandbox`, or use --sandbox"
                        ))
                    } else {
                        e
                    }
                })?;
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
        let endpoints = Arc::new(Endpoints::resolve(settings, &config, &region));
        Ok(Aws {
            sfn: aws_sdk_sfn::Client::new(&config),
            apigw: aws_sdk_apigateway::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            partition: partition_of(&region).to_owned(),
            region,
            account_id,
            limits: settings
                .rate_limits
                .then(|| Arc::new(ratelimit::RateLimits::aws_defaults())),
            share: None,
            pacing: Arc::default(),
            endpoints,
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
        let endpoint = self.endpoints.get(service);
        let answer = awaited(endpoint, operation, send).await;
        let result = record(service, operation, answer).map_err(|e| e.at(endpoint));
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
    fn hints_follow_the_message() {
        let e = AwsError::permanent("sts", "GetCallerIdentity", "ConnectionFailure", "refused");
        assert_eq!(e.to_string(), "ConnectionFailure: refused (GetCallerIdentity)");
        assert_eq!(
            e.with_hint("is it running?").to_string(),
            "ConnectionFailure: refused (GetCallerIdentity) — is it running?"
        );
    }

    #[test]
    fn codes_classify() {
        assert!(is_transient_code("ThrottlingException"));
        assert!(is_transient_code("ConflictException"));
        assert!(!is_transient_code("AccessDeniedException"));
        assert!(!AwsError::permanent("states", "X", "AccessDeniedException", "no").is_transient());
    }
}
