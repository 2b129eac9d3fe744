//! API Gateway (REST, v1) calls, returning our own types.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Op, PatchOperation};

use super::{Aws, AwsError};
use crate::desired::RestApi;
use crate::live::{
    LiveApi, LiveIntegration, LiveMethod, LiveMethodSetting, LiveResource, LiveResponse, LiveStage,
    LiveStageSettings,
};

const SVC: &str = "apigateway";

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

fn sorted(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The fields of a method (its integration and responses included) that no manifest can express.
/// Method response models are not among them: the console sets `Empty` on every method response,
/// and the operator never rewrites a method response that exists.
fn unexpressed(m: &aws_sdk_apigateway::types::Method) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |set: bool, name: String| {
        if set {
            out.push(name);
        }
    };
    note(
        m.request_models().is_some_and(|p| !p.is_empty()),
        "requestModels".into(),
    );
    note(!m.authorization_scopes().is_empty(), "authorizationScopes".into());
    for (code, r) in m.method_responses().into_iter().flatten() {
        note(
            r.response_parameters().is_some_and(|p| !p.is_empty()),
            format!("methodResponses[{code:?}].responseParameters"),
        );
    }
    if let Some(i) = m.method_integration() {
        note(
            !i.cache_key_parameters().is_empty(),
            "integration.cacheKeyParameters".into(),
        );
        note(i.connection_id().is_some(), "integration.connectionId".into());
        for (code, r) in i.integration_responses().into_iter().flatten() {
            note(
                r.response_parameters().is_some_and(|p| !p.is_empty()),
                format!("integrationResponses[{code:?}].responseParameters"),
            );
            note(
                r.content_handling().is_some(),
                format!("integrationResponses[{code:?}].contentHandling"),
            );
        }
    }
    out
}

/// A stage's settings as GetStages shows them (AWS's defaults where it shows none).
fn stage_settings(s: &aws_sdk_apigateway::types::Stage) -> LiveStageSettings {
    LiveStageSettings {
        description: owned(s.description()),
        tracing_enabled: s.tracing_enabled(),
        method_settings: s
            .method_settings()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            LiveMethodSetting {
                                throttling_burst_limit: Some(i64::from(v.throttling_burst_limit())),
                                throttling_rate_limit: Some(v.throttling_rate_limit()),
                                logging_level: owned(v.logging_level()),
                                metrics_enabled: Some(v.metrics_enabled()),
                                data_trace_enabled: Some(v.data_trace_enabled()),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        access_log: s
            .access_log_settings()
            .filter(|a| a.destination_arn().is_some() || a.format().is_some())
            .map(|a| crate::desired::AccessLogSettings {
                destination_arn: owned(a.destination_arn()),
                format: owned(a.format()),
            }),
    }
}

/// A read whose `NotFoundException` means "there is none": `Ok(None)` then.
fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_code("NotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A resource policy as GetRestApis shows it: JSON, or JSON with its quotes escaped (as AWS returns
/// it); the text itself when it is neither.
fn parse_policy(text: &str) -> serde_json::Value {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace("\\\"", "\"").replace("\\/", "/")))
        .unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

impl Aws {
    /// The ARN API Gateway tags a REST API by.
    pub fn rest_api_arn(&self, id: &str) -> String {
        format!(
            "arn:{}:apigateway:{}::/restapis/{}",
            self.partition, self.region, id
        )
    }

    /// GetRestApis, every page.
    pub async fn list_apis(&self) -> Result<Vec<LiveApi>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .call(
                    SVC,
                    "GetRestApis",
                    self.apigw
                        .get_rest_apis()
                        .limit(500)
                        .set_position(position.take())
                        .send(),
                )
                .await?;
            all.extend(out.items().iter().map(|a| {
                LiveApi {
                    id: a.id().unwrap_or_default().to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    description: a.description().map(str::to_owned),
                    endpoint_types: a
                        .endpoint_configuration()
                        .map(|e| e.types().iter().map(|t| t.as_str().to_owned()).collect())
                        .unwrap_or_default(),
                    settings: crate::live::LiveApiSettings {
                        binary_media_types: a.binary_media_types().to_vec(),
                        minimum_compression_size: a.minimum_compression_size().map(i64::from),
                        api_key_source: a
                            .api_key_source()
                            .map_or_else(|| "HEADER".to_owned(), |s| s.as_str().to_owned()),
                        disable_execute_api_endpoint: a.disable_execute_api_endpoint(),
                        policy: a.policy().filter(|p| !p.is_empty()).map(parse_policy),
                    },
                    tags: a
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                }
            }));
            match out.position() {
                Some(p) if !p.is_empty() => position = Some(p.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// CreateRestApi with every tag; returns the id.
    pub async fn create_api(
        &self,
        api: &RestApi,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let types = api
            .endpoint_types
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|t| EndpointType::from(t.as_str()))
            .collect::<Vec<_>>();
        let mut req = self
            .apigw
            .create_rest_api()
            .name(&api.name)
            .set_description(api.description.clone())
            .set_tags(Some(tags.clone().into_iter().collect()));
        if !types.is_empty() {
            req = req.endpoint_configuration(EndpointConfiguration::builder().set_types(Some(types)).build());
        }
        let s = &api.settings;
        req = req
            .set_binary_media_types(s.binary_media_types.clone())
            .set_minimum_compression_size(s.minimum_compression_size.and_then(|n| i32::try_from(n).ok()))
            .set_api_key_source(
                s.api_key_source
                    .as_deref()
                    .map(aws_sdk_apigateway::types::ApiKeySourceType::from),
            )
            .set_disable_execute_api_endpoint(s.disable_execute_api_endpoint)
            .set_policy(s.policy.as_ref().map(|p| p.to_string()));
        let out = self.call(SVC, "CreateRestApi", req.send()).await?;
        Ok(out.id().unwrap_or_default().to_owned())
    }

    /// UpdateRestApi with these patch operations, in one call.
    pub async fn patch_api(
        &self,
        id: &str,
        patches: &[crate::plan::rest_api::Patch],
    ) -> Result<(), AwsError> {
        let ops = patches
            .iter()
            .map(|p| {
                PatchOperation::builder()
                    .op(Op::from(p.op))
                    .path(&p.path)
                    .set_value(p.value.clone())
                    .build()
            })
            .collect();
        self.call(
            SVC,
            "UpdateRestApi",
            self.apigw
                .update_rest_api()
                .rest_api_id(id)
                .set_patch_operations(Some(ops))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UpdateRestApi: replace the description.
    pub async fn set_api_description(&self, id: &str, description: &str) -> Result<(), AwsError> {
        let op = PatchOperation::builder()
            .op(Op::Replace)
            .path("/description")
            .value(description)
            .build();
        self.call(
            SVC,
            "UpdateRestApi",
            self.apigw
                .update_rest_api()
                .rest_api_id(id)
                .patch_operations(op)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UpdateRestApi: change the endpoint types the way AWS takes it, one
    /// `replace /endpointConfiguration/types/<OLD>` with the new type per changed type.
    pub async fn set_api_endpoint_types(
        &self,
        id: &str,
        replacements: &[(String, String)],
    ) -> Result<(), AwsError> {
        let ops = replacements
            .iter()
            .map(|(old, new)| {
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path(format!("/endpointConfiguration/types/{old}"))
                    .value(new)
                    .build()
            })
            .collect();
        self.call(
            SVC,
            "UpdateRestApi",
            self.apigw
                .update_rest_api()
                .rest_api_id(id)
                .set_patch_operations(Some(ops))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// DeleteRestApi.
    pub async fn delete_api(&self, id: &str) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteRestApi",
            self.apigw.delete_rest_api().rest_api_id(id).send(),
        )
        .await
        .map(|_| ())
    }

    /// UntagResource on a REST API.
    pub async fn untag_api(&self, id: &str, keys: &[String]) -> Result<(), AwsError> {
        self.call(
            SVC,
            "UntagResource",
            self.apigw
                .untag_resource()
                .resource_arn(self.rest_api_arn(id))
                .set_tag_keys(Some(keys.to_vec()))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// DeleteMethod (which removes its integration and responses with it).
    pub async fn delete_method(&self, api_id: &str, res: &str, verb: &str) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteMethod",
            self.apigw
                .delete_method()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// TagResource on a REST API.
    pub async fn tag_api(&self, id: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.call(
            SVC,
            "TagResource",
            self.apigw
                .tag_resource()
                .resource_arn(self.rest_api_arn(id))
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// GetResources with methods embedded, every page.
    pub async fn resources(&self, api_id: &str) -> Result<Vec<LiveResource>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .call(
                    SVC,
                    "GetResources",
                    self.apigw
                        .get_resources()
                        .rest_api_id(api_id)
                        .embed("methods")
                        .limit(500)
                        .set_position(position.take())
                        .send(),
                )
                .await?;
            for r in out.items() {
                let mut methods = BTreeMap::new();
                for (verb, m) in r.resource_methods().into_iter().flatten() {
                    let integration = m.method_integration().map(|i| LiveIntegration {
                        integration_type: owned(i.r#type().map(|t| t.as_str())),
                        uri: owned(i.uri()),
                        integration_http_method: owned(i.http_method()),
                        credentials: owned(i.credentials()),
                        request_templates: sorted(i.request_templates()),
                        passthrough_behavior: owned(i.passthrough_behavior()),
                        // Absent (moto, for an integration put without it): AWS's default.
                        timeout_in_millis: match i.timeout_in_millis() {
                            0 => 29000,
                            t => t,
                        },
                        request_parameters: sorted(i.request_parameters()),
                        content_handling: owned(i.content_handling().map(|c| c.as_str())),
                    });
                    let mut responses = BTreeMap::new();
                    for code in m.method_responses().into_iter().flat_map(|r| r.keys()) {
                        let ir = m
                            .method_integration()
                            .and_then(|i| i.integration_responses())
                            .and_then(|r| r.get(code));
                        responses.insert(
                            code.clone(),
                            LiveResponse {
                                integration_response: ir.is_some(),
                                selection_pattern: owned(ir.and_then(|r| r.selection_pattern())),
                                response_templates: sorted(ir.and_then(|r| r.response_templates())),
                            },
                        );
                    }
                    methods.insert(
                        verb.clone(),
                        LiveMethod {
                            authorization_type: owned(m.authorization_type()),
                            api_key_required: m.api_key_required().filter(|r| *r),
                            request_parameters: m
                                .request_parameters()
                                .map(|p| p.iter().map(|(k, v)| (k.clone(), *v)).collect())
                                .unwrap_or_default(),
                            // The validator's id until `resolve_validators` names its checks.
                            request_validator: owned(m.request_validator_id()).filter(|v| !v.is_empty()),
                            integration,
                            responses,
                            unexpressed: crate::live::Unexpressed(unexpressed(m)),
                        },
                    );
                }
                all.push(LiveResource {
                    id: r.id().unwrap_or_default().to_owned(),
                    path: r.path().unwrap_or_default().to_owned(),
                    methods,
                });
            }
            match out.position() {
                Some(p) if !p.is_empty() => position = Some(p.to_owned()),
                _ => break,
            }
        }
        // A method's validator is compared by the checks it makes, not by its id.
        let uses_validators = all
            .iter()
            .flat_map(|r| r.methods.values())
            .any(|m| m.request_validator.is_some());
        if uses_validators {
            let validators = self.request_validators(api_id).await?;
            for m in all.iter_mut().flat_map(|r| r.methods.values_mut()) {
                if let Some(id) = m.request_validator.take() {
                    m.request_validator = match validators.get(&id).map(String::as_str) {
                        Some("NONE") => None,
                        Some(checks) => Some(checks.to_owned()),
                        None => Some(format!("unknown validator {id}")),
                    };
                }
            }
        }
        Ok(all)
    }

    /// CreateResource; returns the id.
    pub async fn create_resource(
        &self,
        api_id: &str,
        parent_id: &str,
        part: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .call(
                SVC,
                "CreateResource",
                self.apigw
                    .create_resource()
                    .rest_api_id(api_id)
                    .parent_id(parent_id)
                    .path_part(part)
                    .send(),
            )
            .await?;
        Ok(out.id().unwrap_or_default().to_owned())
    }

    /// PutMethod with the manifest's own method fields (`validator`: the id of the API's request
    /// validator to use).
    pub async fn put_method(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        auth: &str,
        fields: &crate::desired::MethodFields,
        validator: Option<String>,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "PutMethod",
            self.apigw
                .put_method()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .authorization_type(auth)
                .set_api_key_required(fields.api_key_required.filter(|r| *r))
                .set_request_parameters(
                    fields
                        .request_parameters
                        .clone()
                        .filter(|p| !p.is_empty())
                        .map(|p| p.into_iter().collect()),
                )
                .set_request_validator_id(validator)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UpdateMethod with these changes of its own fields (`validator`: the id a
    /// [`MethodPatch::Validator`] with checks resolves to).
    pub async fn patch_method(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        patches: &[crate::plan::integrations::MethodPatch],
        validator: Option<&str>,
    ) -> Result<(), AwsError> {
        use crate::plan::integrations::MethodPatch;
        let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
        let ops = patches
            .iter()
            .map(|p| {
                let (op, path, value) = match p {
                    MethodPatch::ApiKeyRequired(b) => {
                        (Op::Replace, "/apiKeyRequired".to_owned(), Some(b.to_string()))
                    }
                    MethodPatch::Parameter(name, Some(required)) => (
                        Op::Add,
                        format!("/requestParameters/{}", escape(name)),
                        Some(required.to_string()),
                    ),
                    MethodPatch::Parameter(name, None) => {
                        (Op::Remove, format!("/requestParameters/{}", escape(name)), None)
                    }
                    MethodPatch::Validator(_) => (
                        Op::Replace,
                        "/requestValidatorId".to_owned(),
                        Some(validator.unwrap_or_default().to_owned()),
                    ),
                };
                PatchOperation::builder()
                    .op(op)
                    .path(path)
                    .set_value(value)
                    .build()
            })
            .collect();
        self.update_method(api_id, res, verb, ops).await
    }

    /// UpdateMethod with these patch operations.
    async fn update_method(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        ops: Vec<PatchOperation>,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "UpdateMethod",
            self.apigw
                .update_method()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .set_patch_operations(Some(ops))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// GetRequestValidators: id → the checks it makes (`BODY`, `PARAMETERS`,
    /// `BODY_AND_PARAMETERS`; `NONE` for one that checks nothing).
    pub async fn request_validators(&self, api_id: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .call(
                SVC,
                "GetRequestValidators",
                self.apigw
                    .get_request_validators()
                    .rest_api_id(api_id)
                    .limit(500)
                    .send(),
            )
            .await?;
        Ok(out
            .items()
            .iter()
            .filter_map(|v| {
                let checks = match (v.validate_request_body(), v.validate_request_parameters()) {
                    (true, true) => "BODY_AND_PARAMETERS",
                    (true, false) => "BODY",
                    (false, true) => "PARAMETERS",
                    (false, false) => "NONE",
                };
                Some((v.id()?.to_owned(), checks.to_owned()))
            })
            .collect())
    }

    /// The id of the API's request validator making `checks` (`BODY`, `PARAMETERS`,
    /// `BODY_AND_PARAMETERS`): an existing one (any name), else one created with the name the
    /// console gives it. Not safe to repeat blindly: a lost create is found by the next listing.
    pub async fn ensure_validator(&self, api_id: &str, checks: &str) -> Result<String, AwsError> {
        if let Some((id, _)) = self
            .request_validators(api_id)
            .await?
            .into_iter()
            .find(|(_, c)| c == checks)
        {
            return Ok(id);
        }
        let (name, body, params) = match checks {
            "BODY" => ("Validate body", true, false),
            "PARAMETERS" => ("Validate query string parameters and headers", false, true),
            _ => ("Validate body, query string parameters, and headers", true, true),
        };
        let out = self
            .call(
                SVC,
                "CreateRequestValidator",
                self.apigw
                    .create_request_validator()
                    .rest_api_id(api_id)
                    .name(name)
                    .validate_request_body(body)
                    .validate_request_parameters(params)
                    .send(),
            )
            .await?;
        Ok(out.id().unwrap_or_default().to_owned())
    }

    /// UpdateMethod: replace the authorization type.
    pub async fn set_method_auth(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        auth: &str,
    ) -> Result<(), AwsError> {
        let op = PatchOperation::builder()
            .op(Op::Replace)
            .path("/authorizationType")
            .value(auth)
            .build();
        self.update_method(api_id, res, verb, vec![op]).await
    }

    /// PutIntegration.
    pub async fn put_integration(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        i: &crate::desired::Integration,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "PutIntegration",
            self.apigw
                .put_integration()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .r#type(IntegrationType::from(i.integration_type.as_str()))
                .uri(&i.uri)
                .integration_http_method(&i.integration_http_method)
                .set_credentials(i.credentials.clone())
                .set_request_templates(Some(i.request_templates.clone().into_iter().collect()))
                .passthrough_behavior(&i.passthrough_behavior)
                .timeout_in_millis(i.timeout_in_millis)
                .set_request_parameters(
                    i.request_parameters
                        .clone()
                        .filter(|p| !p.is_empty())
                        .map(|p| p.into_iter().collect()),
                )
                .set_content_handling(
                    i.content_handling
                        .as_deref()
                        .map(aws_sdk_apigateway::types::ContentHandlingStrategy::from),
                )
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// PutMethodResponse.
    pub async fn put_method_response(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        code: &str,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "PutMethodResponse",
            self.apigw
                .put_method_response()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .status_code(code)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// PutIntegrationResponse.
    pub async fn put_integration_response(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        r: &crate::desired::Response,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "PutIntegrationResponse",
            self.apigw
                .put_integration_response()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .status_code(&r.status_code)
                .set_selection_pattern(r.selection_pattern.clone())
                .set_response_templates(Some(r.response_templates.clone().into_iter().collect()))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// GetStages: the stages of an API with the deployment each serves.
    pub async fn stages(&self, api_id: &str) -> Result<Vec<LiveStage>, AwsError> {
        let out = self
            .call(
                SVC,
                "GetStages",
                self.apigw.get_stages().rest_api_id(api_id).send(),
            )
            .await?;
        Ok(out
            .item()
            .iter()
            .filter_map(|s| {
                Some(LiveStage {
                    name: s.stage_name()?.to_owned(),
                    deployment_id: s.deployment_id().map(str::to_owned),
                    canary: s
                        .canary_settings()
                        .and_then(|c| Some((c.deployment_id()?.to_owned(), c.percent_traffic()))),
                    variables: s
                        .variables()
                        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    canary_overrides: s
                        .canary_settings()
                        .and_then(|c| c.stage_variable_overrides())
                        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    settings: stage_settings(s),
                })
            })
            .collect())
    }

    /// CreateDeployment to an existing stage's canary at `percent` % with these stage variable
    /// overrides, described as `description` (the stage's own deployment is left as it is).
    pub async fn deploy_canary(
        &self,
        api_id: &str,
        stage: &str,
        description: &str,
        percent: u8,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let canary = aws_sdk_apigateway::types::DeploymentCanarySettings::builder()
            .percent_traffic(f64::from(percent))
            .set_stage_variable_overrides(
                (!overrides.is_empty()).then(|| overrides.clone().into_iter().collect()),
            )
            .build();
        self.call(
            SVC,
            "CreateDeployment",
            self.apigw
                .create_deployment()
                .rest_api_id(api_id)
                .stage_name(stage)
                .description(description)
                .canary_settings(canary)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UpdateStage with these `(op, path, value)` patch operations, in order.
    pub async fn patch_stage(
        &self,
        api_id: &str,
        stage: &str,
        ops: &[(&str, &str, Option<String>)],
    ) -> Result<(), AwsError> {
        let ops: Vec<aws_sdk_apigateway::types::PatchOperation> = ops
            .iter()
            .map(|(op, path, value)| {
                aws_sdk_apigateway::types::PatchOperation::builder()
                    .op(aws_sdk_apigateway::types::Op::from(*op))
                    .path(*path)
                    .set_value(value.clone())
                    .build()
            })
            .collect();
        self.call(
            SVC,
            "UpdateStage",
            self.apigw
                .update_stage()
                .rest_api_id(api_id)
                .stage_name(stage)
                .set_patch_operations(Some(ops))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UpdateStage with these patch operations (stage settings), in one call.
    pub async fn patch_stage_settings(
        &self,
        api_id: &str,
        stage: &str,
        patches: &[crate::plan::rest_api::Patch],
    ) -> Result<(), AwsError> {
        let ops: Vec<(&str, &str, Option<String>)> = patches
            .iter()
            .map(|p| (p.op, p.path.as_str(), p.value.clone()))
            .collect();
        self.patch_stage(api_id, stage, &ops).await
    }

    /// GetStage: the deployment a stage serves (`None`: no such stage, or no deployment).
    pub async fn stage_deployment(&self, api_id: &str, stage: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .call(
                SVC,
                "GetStage",
                self.apigw
                    .get_stage()
                    .rest_api_id(api_id)
                    .stage_name(stage)
                    .send(),
            )
            .await;
        Ok(found(out)?.and_then(|out| out.deployment_id().map(str::to_owned)))
    }

    /// GetDeployment: a deployment's description (`None`: no such deployment, or none set).
    pub async fn deployment_description(&self, api_id: &str, id: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .call(
                SVC,
                "GetDeployment",
                self.apigw
                    .get_deployment()
                    .rest_api_id(api_id)
                    .deployment_id(id)
                    .send(),
            )
            .await;
        Ok(found(out)?.and_then(|out| out.description().map(str::to_owned)))
    }

    /// GetMethod: whether the method exists.
    pub async fn method_exists(&self, api_id: &str, res: &str, verb: &str) -> Result<bool, AwsError> {
        let out = self
            .call(
                SVC,
                "GetMethod",
                self.apigw
                    .get_method()
                    .rest_api_id(api_id)
                    .resource_id(res)
                    .http_method(verb)
                    .send(),
            )
            .await;
        Ok(found(out)?.is_some())
    }

    /// Whether the method response exists, read from GetMethod's `methodResponses` (the same
    /// read [`Self::method_exists`] makes). Not GetMethodResponse: moto answers that with a 500
    /// for a response a method does not have, which is transient, so a create's existence check
    /// after a lost PutMethodResponse was retried until `--timeout`.
    pub async fn method_response_exists(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        code: &str,
    ) -> Result<bool, AwsError> {
        let out = self
            .call(
                SVC,
                "GetMethod",
                self.apigw
                    .get_method()
                    .rest_api_id(api_id)
                    .resource_id(res)
                    .http_method(verb)
                    .send(),
            )
            .await;
        Ok(found(out)?.is_some_and(|m| m.method_responses().is_some_and(|r| r.contains_key(code))))
    }

    /// DeleteMethodResponse.
    pub async fn delete_method_response(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        code: &str,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteMethodResponse",
            self.apigw
                .delete_method_response()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .status_code(code)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// DeleteIntegrationResponse.
    pub async fn delete_integration_response(
        &self,
        api_id: &str,
        res: &str,
        verb: &str,
        code: &str,
    ) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteIntegrationResponse",
            self.apigw
                .delete_integration_response()
                .rest_api_id(api_id)
                .resource_id(res)
                .http_method(verb)
                .status_code(code)
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// CreateDeployment to a stage (creating the stage if needed), described as `description`.
    pub async fn deploy(&self, api_id: &str, stage: &str, description: &str) -> Result<(), AwsError> {
        self.call(
            SVC,
            "CreateDeployment",
            self.apigw
                .create_deployment()
                .rest_api_id(api_id)
                .stage_name(stage)
                .description(description)
                .send(),
        )
        .await
        .map(|_| ())
    }
}
