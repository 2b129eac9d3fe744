//! The pipeline every AWS request goes through, whatever its wire protocol:
//! count → quota → fault → handler → lost. Each step is written once here; a protocol only says
//! which [`Wire`] shapes the refusals.
//!
//! Must not: parse a request body, know an operation's rules, or touch the state (the handler
//! future does all that).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::super::conn::Conn;
use super::super::faults::Fault;
use super::super::protocol::{ServiceError, Wire};
use super::Shared;

/// Requests counted since the last reset (`GET /_sandbox/requests`).
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) by_op: BTreeMap<(&'static str, String), u64>,
    pub(super) reads: u64,
    pub(super) writes: u64,
    /// Faults injected, by kind (`throttle`, `error`, `errorCode`, `lost`), so tests can tell
    /// that injection really happened.
    pub(super) injected: BTreeMap<&'static str, u64>,
}

/// One request at the gate: how it is counted, limited and faulted, and on which wire.
#[derive(Debug)]
pub(super) struct Call<'a> {
    /// The wire that shapes the gate's own refusals.
    pub wire: Wire,
    /// The service it is counted under (`sfn`, `tagging`, `sts`, `apigateway`, `execute-api`).
    pub service: &'static str,
    /// The operation's name as counted (an unknown one as the client named it).
    pub counted_as: String,
    /// Whether it is counted as a write.
    pub write: bool,
    /// The service of its quota buckets (`states`, `tagging`, `apigateway`); `None`: no quota.
    pub quota: Option<&'static str>,
    /// The operation as quotas and faults know it (`Unknown` when not known).
    pub operation: &'static str,
    /// Whether faults apply (AWS operations only, not the invoke URL).
    pub faults: bool,
    /// Refused right after counting, before quota and faults (an action the service lacks).
    pub refuse: Option<ServiceError>,
    /// The Region of the caller's signature (quotas are per Region).
    pub region: &'a str,
    /// Path and body, which a fault's `match` looks into.
    pub path: &'a str,
    pub body: &'a [u8],
    /// The connection the `lost` fault cuts.
    pub conn: Option<&'a Conn>,
}

impl<'a> Call<'a> {
    /// A request from `region` on `path` with `body`, arriving over `conn`; say what it is with
    /// [`Call::aws`] or [`Call::unguarded`].
    pub fn new(region: &'a str, path: &'a str, body: &'a [u8], conn: Option<&'a Conn>) -> Call<'a> {
        Call {
            wire: Wire::RestJson,
            service: "",
            counted_as: String::new(),
            write: false,
            quota: None,
            operation: "Unknown",
            faults: false,
            refuse: None,
            region,
            path,
            body,
            conn,
        }
    }

    /// An AWS operation: counted, limited by the `quota` service's buckets, faulted. An
    /// operation the sandbox does not know (`Unknown`) is counted as the client `named` it.
    pub fn aws(
        self,
        wire: Wire,
        service: &'static str,
        quota: &'static str,
        operation: &'static str,
        named: &str,
        write: bool,
    ) -> Call<'a> {
        let counted_as = if operation == "Unknown" { named } else { operation };
        Call {
            wire,
            service,
            counted_as: counted_as.to_owned(),
            write,
            quota: Some(quota),
            operation,
            faults: true,
            ..self
        }
    }

    /// A request that is only counted (no quota, no faults).
    pub fn unguarded(self, service: &'static str, operation: &'static str, write: bool) -> Call<'a> {
        Call {
            service,
            counted_as: operation.to_owned(),
            write,
            operation,
            ..self
        }
    }
}

/// Runs `handler` behind the gate: counts the call, refuses it over quota or on an injected
/// fault (in `call.wire`'s shape), else answers with the handler, and for the `lost` fault cuts
/// the connection once the handler has carried the request out.
pub(super) async fn run(
    shared: &Shared,
    call: Call<'_>,
    handler: impl Future<Output = Response>,
) -> Response {
    shared.count(call.service, &call.counted_as, call.write);
    if let Some(refusal) = &call.refuse {
        return call.wire.error(refusal);
    }
    if let Some(wait) = call
        .quota
        .and_then(|service| shared.over_quota(call.region, service, call.operation))
    {
        return over_quota(call.wire, wait);
    }
    let fault = match call.faults {
        true => shared.inject(call.operation, call.path, call.body).await,
        false => None,
    };
    if let Some(refusal) = fault.as_ref().and_then(|f| injected(call.wire, f)) {
        return call.wire.error(&refusal);
    }
    let response = handler.await;
    if fault == Some(Fault::Lost) {
        match call.conn {
            Some(conn) => conn.cut(),
            None => tracing::warn!("lost fault: no connection to cut"),
        }
    }
    response
}

/// The throttling error of a wire.
fn throttled(wire: Wire) -> ServiceError {
    match wire {
        Wire::AwsJson10 => ServiceError::bad("ThrottlingException", "Rate exceeded"),
        Wire::AwsJson11 => ServiceError::bad("ThrottledException", "Rate exceeded"),
        Wire::RestJson => ServiceError::new(429, "TooManyRequestsException", "Too Many Requests"),
        Wire::Query | Wire::Cbor | Wire::AwsJson10Query => ServiceError::bad("Throttling", "Rate exceeded"),
    }
}

/// A call AWS's quotas refuse: the wire's throttling error; API Gateway adds `Retry-After`.
fn over_quota(wire: Wire, wait: Duration) -> Response {
    let mut response = wire.error(&throttled(wire));
    if wire == Wire::RestJson {
        let secs = wait.as_secs_f64().ceil().max(1.0).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// The error an injected fault answers instead of the handler (`None`: the `lost` fault, which
/// lets the handler run).
fn injected(wire: Wire, fault: &Fault) -> Option<ServiceError> {
    Some(match fault {
        Fault::Lost => return None,
        Fault::Throttle => throttled(wire),
        Fault::Error => {
            let code = match wire {
                Wire::AwsJson10 => "ServiceUnavailable",
                Wire::AwsJson11 => "InternalServiceException",
                Wire::RestJson => "ServiceUnavailableException",
                Wire::Query | Wire::Cbor | Wire::AwsJson10Query => "InternalFailure",
            };
            ServiceError::new(500, code, "Injected fault")
        }
        Fault::Code(code) => {
            let denied = code == "AccessDeniedException";
            let status = if denied && wire == Wire::RestJson {
                403
            } else {
                400
            };
            let message = if denied {
                "Injected fault: the caller is not authorized to perform this action".to_owned()
            } else {
                format!("Injected fault: {code}")
            };
            ServiceError::new(status, code.clone(), message)
        }
    })
}

impl Shared {
    fn count(&self, service: &'static str, operation: &str, write: bool) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.by_op.entry((service, operation.to_string())).or_insert(0) += 1;
            if write {
                counts.writes += 1;
            } else {
                counts.reads += 1;
            }
        }
    }

    /// With `--aws-quotas`: `Some(wait)` when this call finds a quota's bucket empty (it is then
    /// refused as AWS would), else the call takes its tokens.
    fn over_quota(&self, region: &str, service: &str, operation: &str) -> Option<Duration> {
        self.quotas.as_ref()?.admit(region, service, operation).err()
    }

    /// Applies the configured faults to one AWS request: sleeps for the latency, returns the fault.
    async fn inject(&self, operation: &str, path: &str, body: &[u8]) -> Option<Fault> {
        let (latency, fault) = match self.faults.lock() {
            Ok(mut faults) => match faults.as_mut() {
                Some(f) => {
                    let target = format!("{path} {}", String::from_utf8_lossy(body));
                    f.roll(operation, &target)
                }
                None => (0, None),
            },
            Err(_) => (0, None),
        };
        if let Some(f) = &fault
            && let Ok(mut counts) = self.counts.lock()
        {
            let kind = match f {
                Fault::Throttle => "throttle",
                Fault::Error => "error",
                Fault::Lost => "lost",
                Fault::Code(_) => "errorCode",
            };
            *counts.injected.entry(kind).or_insert(0) += 1;
        }
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(wire: Wire, fault: Fault) -> Option<(u16, String)> {
        injected(wire, &fault).map(|e| (e.status, e.code))
    }

    #[test]
    fn each_wire_refuses_faults_in_its_own_words() {
        let code = |c: &str| Some((400, c.to_owned()));
        assert_eq!(
            refusal(Wire::AwsJson10, Fault::Throttle),
            code("ThrottlingException")
        );
        assert_eq!(
            refusal(Wire::AwsJson11, Fault::Throttle),
            code("ThrottledException")
        );
        assert_eq!(refusal(Wire::Query, Fault::Throttle), code("Throttling"));
        assert_eq!(
            refusal(Wire::RestJson, Fault::Throttle),
            Some((429, "TooManyRequestsException".into()))
        );
        assert_eq!(
            refusal(Wire::AwsJson10, Fault::Error),
            Some((500, "ServiceUnavailable".into()))
        );
        assert_eq!(
            refusal(Wire::RestJson, Fault::Error),
            Some((500, "ServiceUnavailableException".into()))
        );
        let denied = || Fault::Code("AccessDeniedException".into());
        assert_eq!(
            refusal(Wire::RestJson, denied()),
            Some((403, "AccessDeniedException".into()))
        );
        assert_eq!(refusal(Wire::AwsJson10, denied()), code("AccessDeniedException"));
        assert_eq!(refusal(Wire::AwsJson10, Fault::Lost), None);
        let r = over_quota(Wire::RestJson, Duration::from_millis(1500));
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert!(
            over_quota(Wire::AwsJson10, Duration::from_secs(1))
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }
}
