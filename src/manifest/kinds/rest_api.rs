//! `kind: RestApi` (SPEC §2): name, description, endpoint types, tags, deletion policy.
//!
//! Must not: look at other documents.

use super::Ctx;
use crate::desired::{EndpointType, Meta, RestApi};
use crate::manifest::fields::{Diags, check_keys, deletion_policy, describe, string_field, string_map};
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
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    Some(RestApi {
        meta,
        name,
        description,
        endpoint_types,
        tags,
        deletion_policy,
    })
}
