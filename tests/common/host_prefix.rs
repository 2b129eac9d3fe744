//! An SDK interceptor that undoes the `sync-` host prefix of `StartSyncExecution`, so the call
//! reaches `http://127.0.0.1:PORT` (the AWS CLI: `AWS_DISABLE_HOST_PREFIX_INJECTION=true`).

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{ConfigBag, Intercept, RuntimeComponents};

#[derive(Debug)]
pub struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request_mut();
        let uri = request.uri().replacen("://sync-", "://", 1);
        request.set_uri(uri)?;
        Ok(())
    }
}

/// A Step Functions client for a local endpoint (any credentials, `us-east-1`), the `sync-` host
/// prefix undone.
#[allow(dead_code)]
pub fn sfn_client(url: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .endpoint_url(url)
        .region(aws_sdk_sfn::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .interceptor(NoHostPrefix)
        .behavior_version_latest()
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}
