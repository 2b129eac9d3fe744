//! `kind: RestApi` (SPEC §2): name, description, endpoint types, tags, deletion policy.
//!
//! Must not: look at other documents.

use super::Ctx;
use crate::desired::{ApiSettings, EndpointType, Meta, RestApi};
use crate::manifest::fields::{
    Diags, bool_field, check_keys, deletion_policy, describe, enum_field, int_field, string_field, string_map,
};
use crate::manifest::subst::substitute_tree;
use crate::manifest::yaml::{Node, Value};

pub(super) fn load_api(spec: &mut Node, meta: Meta, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<RestApi> {
    if !check_keys(
        spec,
        "spec",
        &[
            "name",
            "description",
            "endpointConfiguration",
            "binaryMediaTypes",
            "minimumCompressionSize",
            "apiKeySource",
            "disableExecuteApiEndpoint",
            "policy",
            "tags",
            "deletionPolicy",
            "driftPolicy",
            "ignoreDifferences",
        ],
        ds,
    ) {
        return None;
    }
    substitute_tree(spec, &ctx.vars(None), &[], ds);
    let name = string_field(spec, "name", "spec", ds).unwrap_or_else(|| meta.name.clone());
    if name.is_empty() || name.len() > 1024 {
        let pos = spec.get("name").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.name: must be 1–1024 characters");
    }
    let description = string_field(spec, "description", "spec", ds);
    let endpoint_types = spec.get("endpointConfiguration").and_then(|e| {
        if !check_keys(e, "spec.endpointConfiguration", &["types"], ds) {
            return None;
        }
        let types = e.get("types")?;
        let Value::Seq(items) = &types.value else {
            ds.at(
                types.pos,
                format!(
                    "spec.endpointConfiguration.types: expected a list, found {}",
                    describe(types)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some("EDGE") => out.push(EndpointType::Edge),
                Some("REGIONAL") => out.push(EndpointType::Regional),
                Some("PRIVATE") => out.push(EndpointType::Private),
                _ => ds.at(
                    it.pos,
                    format!(
                        "spec.endpointConfiguration.types: expected EDGE, REGIONAL or PRIVATE, found {}",
                        describe(it)
                    ),
                ),
            }
        }
        Some(out)
    });
    let binary_media_types = spec.get("binaryMediaTypes").and_then(|b| {
        let Value::Seq(items) = &b.value else {
            ds.at(
                b.pos,
                format!("spec.binaryMediaTypes: expected a list of media types, found {}", describe(b)),
            );
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some(t) if t.contains('/') => out.push(t.to_owned()),
                _ => ds.at(
                    it.pos,
                    format!(
                        "spec.binaryMediaTypes: expected a media type (type/subtype, e.g. image/png or */*), found {}",
                        describe(it)
                    ),
                ),
            }
        }
        Some(out)
    });
    let settings = ApiSettings {
        binary_media_types,
        // AWS's range: 0 bytes to 10 MiB.
        minimum_compression_size: int_field(spec, "minimumCompressionSize", "spec", 0..=10_485_760, ds),
        api_key_source: enum_field(spec, "apiKeySource", "spec", &["HEADER", "AUTHORIZER"], ds),
        disable_execute_api_endpoint: bool_field(spec, "disableExecuteApiEndpoint", "spec", ds),
        policy: spec.get("policy").and_then(|p| match &p.value {
            Value::Map(_) => Some(p.to_json()),
            // A JSON document in a string, as the console shows it.
            Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) if v.is_object() => Some(v),
                _ => {
                    ds.at(p.pos, "spec.policy: expected a policy document (a mapping, or a JSON object in a string)");
                    None
                }
            },
            _ => {
                ds.at(
                    p.pos,
                    format!("spec.policy: expected a policy document (a mapping), found {}", describe(p)),
                );
                None
            }
        }),
    };
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    Some(RestApi {
        meta,
        name,
        description,
        endpoint_types,
        settings,
        tags,
        deletion_policy,
    })
}
