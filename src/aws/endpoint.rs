//! Which URL each service's calls go to: the endpoint the user gave (`--endpoint-url`,
//! `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`) or AWS's regional default, for the warnings
//! and errors that name it. Nothing here sends a request.

use std::sync::Arc;

use super::Settings;

/// The URL of each service's endpoint: the one given (`--endpoint-url`, `AWS_ENDPOINT_URL*`) or
/// AWS's regional default.
#[derive(Debug)]
pub(super) struct Endpoints {
    states: Arc<str>,
    apigateway: Arc<str>,
    tagging: Arc<str>,
    monitoring: Arc<str>,
}

impl Endpoints {
    fn of(service: &str) -> &'static str {
        match service {
            "states" => "SFN",
            "apigateway" => "API_GATEWAY",
            "tagging" => "RESOURCE_GROUPS_TAGGING_API",
            "monitoring" => "CLOUDWATCH",
            _ => "STS",
        }
    }

    pub(super) fn resolve(settings: &Settings, config: &aws_config::SdkConfig, region: &str) -> Endpoints {
        let url = |service| Arc::from(endpoint_url(settings, config, service, region).0);
        Endpoints {
            states: url("states"),
            apigateway: url("apigateway"),
            tagging: url("tagging"),
            monitoring: url("monitoring"),
        }
    }

    pub(super) fn get(&self, service: &str) -> &Arc<str> {
        match service {
            "apigateway" => &self.apigateway,
            "tagging" => &self.tagging,
            "monitoring" => &self.monitoring,
            _ => &self.states,
        }
    }
}

/// The URL `service`'s calls go to, and whether it was given explicitly (`--endpoint-url`,
/// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL`) rather than AWS's default.
pub(super) fn endpoint_url(
    settings: &Settings,
    config: &aws_config::SdkConfig,
    service: &str,
    region: &str,
) -> (String, bool) {
    if let Some(url) = &settings.endpoint_url {
        return (url.clone(), true);
    }
    let ignored =
        std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if !ignored {
        let specific = format!("AWS_ENDPOINT_URL_{}", Endpoints::of(service));
        if let Some(url) = std::env::var(specific).ok().filter(|u| !u.is_empty()) {
            return (url, true);
        }
    }
    if let Some(url) = config.endpoint_url() {
        return (url.to_owned(), true);
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    (format!("https://{service}.{region}.{suffix}"), false)
}
