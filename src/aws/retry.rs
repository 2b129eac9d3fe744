//! Retrying AWS calls: one backoff policy (backon, exponential with jitter, bounded by the
//! pass deadline and a shutdown's retry grace), creates that are never blindly re-sent, deletes
//! that treat "gone" as done, and the warnings that keep an unreachable endpoint from being
//! silent (a WARN per retry after a connection failure, a WARN per 7 s without an answer).
//! Nothing here builds requests or decides what to change.

use std::time::Duration;

use backon::ExponentialBuilder;
use tokio::time::Instant;

use super::AwsError;

/// Runs `op` until it succeeds, fails permanently, `deadline` passes or a shutdown's retry grace
/// is over (then the last transient error is returned). Exponential backoff from 50 ms to 5 s with
/// jitter (at most 3 s after a connection failure). Each retry after a connection failure is
/// logged at WARN (the URL, the operation, the attempt and the time left), other retries
/// (throttling) at DEBUG, so busy passes stay quiet; a call unanswered for 7 s is a WARN too.
pub async fn retry<T, F, Fut>(deadline: Instant, op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_while(deadline, |_| true, op).await
}

/// [`retry`], which also gives up on a transient error for which `keep_going` says no.
pub(super) async fn retry_while<T, F, Fut>(
    deadline: Instant,
    mut keep_going: impl FnMut(&AwsError) -> bool,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut attempts = Attempts::new(deadline);
    loop {
        let err = match attempts.run(op()).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !(err.is_transient() && may_retry(deadline) && keep_going(&err)) {
            return Err(err);
        }
        attempts.pause(&err).await;
    }
}

/// The attempts of one retried call: how many so far, and the backoff between them.
struct Attempts {
    deadline: Instant,
    number: u32,
    delays: backon::ExponentialBackoff,
}

impl Attempts {
    fn new(deadline: Instant) -> Self {
        use backon::BackoffBuilder as _;
        Attempts {
            deadline,
            number: 0,
            delays: backoff_policy().build(),
        }
    }

    /// Runs the next attempt, numbered for the warnings of [`Aws::call`].
    async fn run<T>(&mut self, attempt: impl Future<Output = Result<T, AwsError>>) -> Result<T, AwsError> {
        self.number += 1;
        let current = Attempt {
            number: self.number,
            deadline: self.deadline,
        };
        // Boxed: the attempt (an SDK call's future) is large, and the daemon's worker threads
        // poll it under several layers of passes and spans.
        ATTEMPT.scope(current, Box::pin(attempt)).await
    }

    /// Logs the retry after `err` and waits before the next attempt.
    async fn pause(&mut self, err: &AwsError) {
        let delay = pause_after(err, self.delays.next());
        log_retry(err, self.number, self.deadline, delay);
        tokio::time::sleep(delay).await;
    }
}

tokio::task_local! {
    /// The attempt of [`retry`] a call belongs to, for the warnings of [`Aws::call`].
    static ATTEMPT: Attempt;
}

/// One attempt of [`retry`]: its number (from 1) and when retrying stops.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    number: u32,
    deadline: Instant,
}

/// The longest pause between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// How long a call may go unanswered before a warning says so (and again after as long).
const SLOW_ANSWER: Duration = Duration::from_secs(7);

/// The longest pause after a connection failure: with [`SLOW_ANSWER`], an endpoint that does
/// not answer is never silent for more than 10 s (a warning per retry, one per unanswered 7 s).
const MAX_DELAY_UNREACHABLE: Duration = Duration::from_secs(3);

/// The pause before the next attempt: the backoff's, shorter after a connection failure.
fn pause_after(err: &AwsError, backoff: Option<Duration>) -> Duration {
    let delay = backoff.unwrap_or(MAX_DELAY);
    if err.is_connection_failure() {
        delay.min(MAX_DELAY_UNREACHABLE)
    } else {
        delay
    }
}

/// Logs a retry: at WARN after a connection failure (the endpoint may not be running), at DEBUG
/// otherwise (throttling and conflicts are routine).
fn log_retry(err: &AwsError, attempt: u32, deadline: Instant, delay: Duration) {
    let time_left = human(deadline.saturating_duration_since(Instant::now()));
    let retry_in = format!("{} ms", delay.as_millis());
    let endpoint = err.endpoint().unwrap_or("the default AWS endpoint");
    let operation = err.operation;
    // The same fields at either level (a level in `tracing` is fixed per call site).
    macro_rules! retrying {
        ($level:ident, $message:literal) => {
            tracing::$level!(
                endpoint = %endpoint,
                operation = %operation,
                attempt,
                time_left = %time_left,
                retry_in = %retry_in,
                error = %err,
                $message
            )
        };
    }
    if err.is_connection_failure() {
        retrying!(warn, "cannot reach the endpoint; retrying until --timeout");
    } else {
        retrying!(debug, "transient failure; retrying");
    }
}

/// Awaits `answer`, warning every [`SLOW_ANSWER`] while it has not come (an endpoint that
/// accepts connections and never answers would otherwise wait silently for the attempt timeout).
pub(super) async fn awaited<T>(
    endpoint: &str,
    operation: &'static str,
    answer: impl Future<Output = T>,
) -> T {
    // Boxed: an SDK `send()` future is large; kept off the stack of every frame polling it.
    let mut answer = Box::pin(answer);
    let started = Instant::now();
    let mut ticks = tokio::time::interval_at(started + SLOW_ANSWER, SLOW_ANSWER);
    loop {
        tokio::select! {
            out = &mut answer => return out,
            _ = ticks.tick() => warn_unanswered(endpoint, operation, started),
        }
    }
}

/// The warning of [`awaited`]: the call, its attempt and how long it has waited.
#[inline(never)]
fn warn_unanswered(endpoint: &str, operation: &'static str, started: Instant) {
    let waited = human(started.elapsed());
    match ATTEMPT.try_with(|a| *a) {
        Ok(a) => tracing::warn!(
            endpoint = %endpoint,
            operation = %operation,
            attempt = a.number,
            waited = %waited,
            time_left = %human(a.deadline.saturating_duration_since(Instant::now())),
            "no answer yet from the endpoint"
        ),
        Err(_) => {
            tracing::warn!(endpoint = %endpoint, operation = %operation, waited = %waited, "no answer yet from the endpoint")
        }
    }
}

/// A duration for people: `4m52s`, `9s`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Backoff delays for one call's retries: exponential from 50 ms to 5 s, with jitter.
fn backoff_policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(MAX_DELAY)
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
    let mut attempts = Attempts::new(deadline);
    loop {
        let err = match attempts.run(create()).await {
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
        attempts.pause(&err).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_pause_at_most_3_s() {
        let refused = AwsError::permanent("sts", "X", "ConnectionFailure", "refused");
        let throttled = AwsError::permanent("sts", "X", "ThrottlingException", "slow");
        let long = Some(Duration::from_secs(9));
        assert_eq!(pause_after(&refused, long), Duration::from_secs(3));
        assert_eq!(pause_after(&throttled, long), Duration::from_secs(9));
        assert_eq!(
            pause_after(&refused, Some(Duration::from_millis(50))),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_secs(9)), "9s");
        assert_eq!(human(Duration::from_secs(292)), "4m52s");
    }
}
