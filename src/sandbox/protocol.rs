//! What every sandbox handler answers and how it goes on the wire: one error type
//! ([`ServiceError`]), one reply type ([`Reply`]), and a [`Wire`] per AWS protocol that turns
//! either into the bytes, status and headers that protocol uses (axum's `IntoResponse for
//! AppError`). Also the request helpers the JSON handlers share, and the one page-token scheme.
//!
//! A handler returns [`Outcome`] and never builds a response itself; the server picks the wire
//! from the route. Must not: read or change the state, count, throttle or inject faults (that is
//! the server's gate).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// An AWS error: HTTP status, AWS error code (`ValidationException`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ServiceError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> ServiceError {
        ServiceError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A client error (HTTP 400).
    pub fn bad(code: impl Into<String>, message: impl Into<String>) -> ServiceError {
        ServiceError::new(400, code, message)
    }
}

/// AWS's message for a request member outside its enumeration (its model's constraint), at
/// `field`; each service answers it with its own code.
pub fn enum_message(field: &str, value: &str, allowed: &[&str]) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// A handler's successful answer: status, JSON body (none: the wire's empty body), and whether
/// the state changed (the server then persists it before answering).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub mutated: bool,
}

impl Reply {
    /// 200 with `body`, state unchanged.
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            mutated: false,
        }
    }

    /// 200 with `body`, state changed.
    pub fn changed(body: Value) -> Reply {
        Reply {
            mutated: true,
            ..Reply::ok(body)
        }
    }
}

/// What a handler answers: a reply, or an AWS error (which never changed the state).
pub type Outcome = Result<Reply, ServiceError>;

/// A wire protocol of the sandbox: how an [`Outcome`] becomes an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Step Functions, `awsJson1_0`: errors `{"__type", "message"}`.
    AwsJson10,
    /// The Resource Groups Tagging API, `awsJson1_1`: errors `{"__type", "Message"}`.
    AwsJson11,
    /// API Gateway's `restJson1` (and the sandbox's own `/_sandbox/*`): errors `{"message"}`.
    RestJson,
    /// STS's `awsQuery`: XML bodies.
    Query,
    /// CloudWatch's Smithy RPC v2 CBOR (current SDKs): CBOR bodies, errors `{"__type",
    /// "message"}` and the query error code in `x-amzn-query-error` (CloudWatch is
    /// query-compatible).
    Cbor,
    /// CloudWatch's awsJson 1.0 (the AWS CLI): as [`Wire::AwsJson10`], plus `x-amzn-query-error`.
    AwsJson10Query,
}

impl Wire {
    fn content_type(self) -> &'static str {
        match self {
            Wire::AwsJson10 | Wire::AwsJson10Query => "application/x-amz-json-1.0",
            Wire::Cbor => "application/cbor",
            Wire::AwsJson11 => "application/x-amz-json-1.1",
            Wire::RestJson => "application/json",
            Wire::Query => "text/xml",
        }
    }

    /// The JSON an outcome answers on a JSON wire: status and body (an error's in the wire's shape).
    pub fn json(self, outcome: &Outcome) -> (u16, Value) {
        match outcome {
            Ok(reply) => (reply.status, reply.body.clone().unwrap_or_else(|| json!({}))),
            Err(e) => (e.status, self.error_body(e)),
        }
    }

    fn error_body(self, e: &ServiceError) -> Value {
        match self {
            Wire::AwsJson11 => json!({"__type": e.code, "Message": e.message}),
            Wire::RestJson => json!({"message": e.message}),
            Wire::AwsJson10 | Wire::AwsJson10Query | Wire::Cbor | Wire::Query => {
                json!({"__type": e.code, "message": e.message})
            }
        }
    }

    /// The HTTP response for an outcome.
    pub fn respond(self, outcome: Outcome) -> Response {
        match outcome {
            Ok(reply) => {
                let body = reply.body.unwrap_or_else(|| json!({}));
                if self == Wire::Cbor {
                    return self.cbor(reply.status, &body, None);
                }
                self.bytes(reply.status, body.to_string(), None)
            }
            Err(e) => self.error(&e),
        }
    }

    /// A CBOR response (with the `smithy-protocol` header RPC v2 requires).
    fn cbor(self, status: u16, body: &Value, error: Option<&ServiceError>) -> Response {
        let mut response = self.bytes(status, String::new(), error.map(|e| e.code.as_str()));
        *response.body_mut() = Body::from(super::cbor::encode(body));
        response
    }

    /// The HTTP response for an error (with `x-amzn-ErrorType` on the JSON wires).
    pub fn error(self, e: &ServiceError) -> Response {
        if self == Wire::Query {
            let xml = format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                 <Code>{}</Code><Message>{}</Message></Error><RequestId>0</RequestId></ErrorResponse>",
                e.code, e.message
            );
            return self.bytes(e.status, xml, None);
        }
        if self == Wire::Cbor {
            return self.cbor(e.status, &self.error_body(e), Some(e));
        }
        self.bytes(e.status, self.error_body(e).to_string(), Some(&e.code))
    }

    /// A response of this wire's content type carrying `body` as it is.
    pub fn bytes(self, status: u16, body: String, error_type: Option<&str>) -> Response {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type()),
        );
        if let Some(kind) = error_type.and_then(|k| HeaderValue::from_str(k).ok()) {
            response.headers_mut().insert("x-amzn-errortype", kind);
        }
        let query_compatible = matches!(self, Wire::Cbor | Wire::AwsJson10Query);
        if let Some(code) = error_type.filter(|_| query_compatible)
            && let Ok(v) = HeaderValue::from_str(&format!("{code};Sender"))
        {
            response.headers_mut().insert("x-amzn-query-error", v);
        }
        if self == Wire::Cbor {
            response
                .headers_mut()
                .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        }
        response
    }
}

/// The JSON object of an awsJson request (an empty body is `{}`).
pub fn json_input(body: &[u8]) -> Result<Map<String, Value>, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ServiceError::bad(
            "ValidationException",
            "Request body must be a JSON object",
        )),
        Err(err) => Err(ServiceError::bad(
            "SerializationException",
            format!("Malformed JSON: {err}"),
        )),
    }
}

/// A Step Functions `name` (state machine, execution, activity) longer than AWS's 80
/// characters: the `ValidationException` of the API's length constraint (checked before the
/// name's characters, as AWS does).
pub fn check_name_length(name: &str) -> Result<(), ServiceError> {
    match name.chars().count() {
        0..=80 => Ok(()),
        _ => Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        ))),
    }
}

/// AWS's `ValidationException`.
pub fn validation(message: impl Into<String>) -> ServiceError {
    ServiceError::bad("ValidationException", message)
}

/// Step Functions' `InvalidArn` for `arn`, in AWS's words (`Invalid ARN prefix` when it does
/// not even start like an ARN).
pub fn invalid_arn(arn: &str) -> ServiceError {
    let message = if arn.starts_with("arn:") {
        format!("Invalid Arn: '{arn}'")
    } else {
        format!("Invalid Arn: 'Invalid ARN prefix: {arn}'")
    };
    ServiceError::bad("InvalidArn", message)
}

/// An optional string member.
pub fn string<'a>(input: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ServiceError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(validation(format!("{key} must be a string"))),
    }
}

/// A required string member, refused in AWS's words when missing.
pub fn required<'a>(input: &'a Map<String, Value>, key: &str) -> Result<&'a str, ServiceError> {
    string(input, key)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Query parameters of a REST request, decoded, in order.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a>(pub &'a [(String, String)]);

impl Query<'_> {
    /// Every value of `name`.
    pub fn all<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b str> + 'b {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`.
    pub fn first<'b>(&'b self, name: &'b str) -> Option<&'b str> {
        self.all(name).next()
    }
}

/// One page of `items` from index `start` (past the end: empty), at most `max` long, and the
/// index the next page starts at (`None` after the last). Every listing pages through this;
/// what differs per protocol is only how the next start is written: an awsJson [`token`], or
/// API Gateway's `position` (the index itself, as AWS's REST API shows it).
pub fn page<T>(items: &[T], start: usize, max: usize) -> (&[T], Option<usize>) {
    let start = start.min(items.len());
    let end = start.saturating_add(max).min(items.len());
    (&items[start..end], (end < items.len()).then_some(end))
}

/// The page-token scheme of the awsJson protocols: a token is opaque to clients, the hex of the
/// key of the last item returned, and the next page starts after that item.
pub mod token {
    /// The token that resumes after the item with `key`.
    pub fn encode(key: &str) -> String {
        key.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// The key a token of [`encode`] names, if it is one.
    pub fn decode(token: &str) -> Option<String> {
        if !token.len().is_multiple_of(2) {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..token.len())
            .step_by(2)
            .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        String::from_utf8(bytes?).ok()
    }

    /// One page of `items` (in their listing order) of at most `max`, resuming after the item
    /// whose key `after` names: the page and the token of the next one. `None` when `after`
    /// names no item.
    pub fn page<'a, T>(
        items: &'a [T],
        key: impl Fn(&T) -> String,
        after: Option<&str>,
        max: usize,
    ) -> Option<(&'a [T], Option<String>)> {
        let start = match after {
            None => 0,
            Some(after) => items.iter().position(|i| key(i) == after)? + 1,
        };
        let (page, more) = super::page(items, start, max);
        let next = match page.last() {
            Some(last) if more.is_some() => Some(encode(&key(last))),
            _ => None,
        };
        Some((page, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pages_resume_after_their_key() {
        assert_eq!(token::decode(&token::encode("arn:x")), Some("arn:x".into()));
        assert_eq!(token::decode("zz"), None);
        assert_eq!(token::decode("abc"), None);
        let items = ["a", "b", "c"];
        let key = |s: &&str| (*s).to_owned();
        let (first, next) = token::page(&items, key, None, 2).unwrap_or_default();
        assert_eq!(first, ["a", "b"]);
        let after = next.as_deref().and_then(token::decode);
        let (second, next) = token::page(&items, key, after.as_deref(), 2).unwrap_or_default();
        assert_eq!((second, next), (&["c"][..], None));
        assert!(token::page(&items, key, Some("z"), 2).is_none());
    }

    #[test]
    fn each_wire_shapes_errors_its_own_way() {
        let e = ServiceError::bad("Nope", "no");
        assert_eq!(
            Wire::AwsJson10.json(&Err(e.clone())).1,
            json!({"__type": "Nope", "message": "no"})
        );
        assert_eq!(
            Wire::AwsJson11.json(&Err(e.clone())).1,
            json!({"__type": "Nope", "Message": "no"})
        );
        assert_eq!(Wire::RestJson.json(&Err(e.clone())).1, json!({"message": "no"}));
        let r = Wire::RestJson.error(&e);
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["x-amzn-errortype"], "Nope");
        assert!(Wire::Query.error(&e).headers().get("x-amzn-errortype").is_none());
        assert_eq!(
            Wire::RestJson
                .json(&Ok(Reply {
                    status: 204,
                    body: None,
                    mutated: true
                }))
                .1,
            json!({})
        );
    }
}
