//! One file per manifest kind (`state_machine`, `rest_api`, `api_integration`, `workflow_test`),
//! and here what they share: the reading context, the document header (`apiVersion`, `kind`,
//! `metadata`) and the dispatch to the kind's reader.
//!
//! Must not: look across documents (duplicates and references are the driver's, `load.rs`), or
//! walk directories.

pub(super) mod api_integration;
mod controls;
pub(super) mod rest_api;
pub(super) mod state_machine;
pub(super) mod versioning;
pub mod workflow_test;

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Diagnostic;
use super::fields::{Diags, check_keys, describe, is_dns_label, required_string, string_map};
use super::files::Found;
use super::subst::Vars;
use super::yaml::{Node, Pos, Value};
use crate::desired::{ApiIntegration, Kind, Meta, ResourceKey, RestApi, SourceRef, StateMachine};
use workflow_test::TestDoc;

/// The only accepted `apiVersion`.
pub const API_VERSION: &str = "sfn-operator.dev/v1alpha1";

/// What every kind's reader needs besides its document: placeholder values and where warnings go.
pub(in crate::manifest) struct Ctx<'a> {
    pub(in crate::manifest) vars: &'a BTreeMap<String, String>,
    pub(in crate::manifest) region: Option<&'a str>,
    pub(in crate::manifest) account_id: Option<&'a str>,
    /// Findings that do not make a manifest invalid (ASL warnings).
    pub(in crate::manifest) warnings: std::cell::RefCell<Vec<Diagnostic>>,
}

impl Ctx<'_> {
    pub(in crate::manifest) fn vars<'b>(&'b self, local: Option<&'b BTreeMap<String, String>>) -> Vars<'b> {
        Vars {
            local,
            global: self.vars,
            region: self.region,
            account_id: self.account_id,
        }
    }
}

/// One identified document on its way to a resource.
pub(in crate::manifest) struct Doc {
    pub(in crate::manifest) key: ResourceKey,
    pub(in crate::manifest) name_pos: Pos,
    pub(in crate::manifest) file: PathBuf,
    pub(in crate::manifest) valid: bool,
    pub(in crate::manifest) spec: Option<Spec>,
}

pub(in crate::manifest) enum Spec {
    Machine(Box<StateMachine>),
    Api(Box<RestApi>),
    /// The integration, its `restApi.ref`, its `stateMachineRef` and its `stateMachineAlias`,
    /// with their positions (the driver resolves them).
    Integration(
        Box<ApiIntegration>,
        Option<(String, Pos)>,
        Option<(String, Pos)>,
        Option<(String, Pos)>,
    ),
}

/// A document that loaded far enough to be identified.
pub(in crate::manifest) enum Loadable {
    Resource(Box<Doc>),
    Test(Box<TestDoc>),
}

pub(in crate::manifest) fn load_doc(
    root: &mut Node,
    found: &Found,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<Loadable> {
    if matches!(root.value, Value::Map(_))
        && ["apiVersion", "kind", "metadata"]
            .iter()
            .all(|k| root.get(k).is_none())
    {
        let keys: Vec<&str> = match &root.value {
            Value::Map(entries) => entries.iter().map(|(k, _)| k.name.as_str()).collect(),
            _ => Vec::new(),
        };
        let got = if keys.is_empty() {
            "an empty mapping".to_string()
        } else {
            format!("a mapping of {}", keys.join(", "))
        };
        ds.at(
            root.pos,
            format!("not a manifest: expected apiVersion, kind, metadata and spec, found {got}"),
        );
        return None;
    }
    if !check_keys(root, "document", &["apiVersion", "kind", "metadata", "spec"], ds) {
        return None;
    }
    match root.get("apiVersion") {
        None => ds.at(
            root.pos,
            format!("apiVersion: required field missing (expected {API_VERSION})"),
        ),
        Some(v) if v.as_str() == Some(API_VERSION) => {}
        Some(v) => ds.at(
            v.pos,
            format!("apiVersion: expected \"{API_VERSION}\", found {}", describe(v)),
        ),
    }
    let kind = match root.get("kind") {
        None => {
            ds.at(
                root.pos,
                "kind: required field missing (StateMachine, RestApi, ApiIntegration or WorkflowTest)",
            );
            None
        }
        Some(v) if v.as_str() == Some("WorkflowTest") => None,
        Some(v) => match v.as_str().and_then(Kind::parse) {
            Some(k) => Some(k),
            None => {
                ds.at(
                    v.pos,
                    format!(
                        "kind: expected StateMachine, RestApi, ApiIntegration or WorkflowTest, found {}",
                        describe(v)
                    ),
                );
                None
            }
        },
    };
    let is_test = root.get("kind").and_then(Node::as_str) == Some("WorkflowTest");
    let Some(metadata) = root.get("metadata") else {
        ds.at(root.pos, "metadata: required field missing");
        return None;
    };
    if !check_keys(metadata, "metadata", &["name", "labels", "annotations"], ds) {
        return None;
    }
    let name = required_string(metadata, "name", "metadata", ds)?;
    let name_pos = metadata.get("name").map(|n| n.pos).unwrap_or(metadata.pos);
    if !is_dns_label(&name) {
        ds.at(
            name_pos,
            format!("metadata.name: \"{name}\" is not a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)"),
        );
    }
    let labels = string_map(metadata, "labels", "metadata", ds);
    let annotations = string_map(metadata, "annotations", "metadata", ds);
    let annotations_pos = metadata.get("annotations").map_or(metadata.pos, |n| n.pos);
    let controls = match kind {
        Some(kind) if !is_test => controls::read(kind, root.get("spec"), &annotations, annotations_pos, ds),
        _ => Default::default(),
    };
    let meta = Meta {
        name: name.clone(),
        labels,
        annotations,
        source: SourceRef {
            file: found.file.clone(),
            line: root.pos.line,
            column: root.pos.column,
        },
        controls,
    };
    if is_test {
        return workflow_test::load_doc(root, meta, name_pos, ctx, ds);
    }
    let kind = kind?;
    let spec = match root.entry("spec").map(|(k, _)| k.pos) {
        None => {
            ds.at(root.pos, "spec: required field missing");
            None
        }
        Some(_) => {
            // Substitute in place, then read the typed fields.
            let spec_node = spec_mut(root);
            spec_node.and_then(|spec| match kind {
                Kind::StateMachine => state_machine::load_machine(spec, meta.clone(), found, ctx, ds)
                    .map(|m| Spec::Machine(Box::new(m))),
                Kind::RestApi => {
                    rest_api::load_api(spec, meta.clone(), ctx, ds).map(|a| Spec::Api(Box::new(a)))
                }
                Kind::ApiIntegration => api_integration::load_integration(spec, meta.clone(), ctx, ds),
            })
        }
    };
    Some(Loadable::Resource(Box::new(Doc {
        key: ResourceKey::new(kind, name),
        name_pos,
        file: found.file.clone(),
        valid: ds.count == 0,
        spec,
    })))
}

pub(super) fn spec_mut(root: &mut Node) -> Option<&mut Node> {
    match &mut root.value {
        Value::Map(entries) => entries.iter_mut().find(|(k, _)| k.name == "spec").map(|(_, n)| n),
        _ => None,
    }
}
