//! `kind: StateMachine` (SPEC §2): the spec's fields, `definitionSubstitutions`, the inline
//! `definition` or the `definitionFile` beside the manifest, and the ASL validation of either, each
//! finding placed at the nearest YAML node.
//!
//! Must not: look at other documents.

use std::collections::BTreeMap;
use std::path::Path;

use super::Ctx;
use crate::desired::{EncryptionConfiguration, LoggingConfiguration, MachineType, Meta, StateMachine};
use crate::manifest::Diagnostic;
use crate::manifest::fields::{
    Diags, bool_field, check_keys, deletion_policy, describe, enum_field, int_field, required_string,
    string_field, string_map,
};
use crate::manifest::files::{Found, read_bounded};
use crate::manifest::subst::{substitute, substitute_definition, substitute_tree};
use crate::manifest::yaml::{Node, Pos, Value, parse_documents};
use crate::path::{Path as AslPath, Segment};

pub(super) fn load_machine(
    spec: &mut Node,
    meta: Meta,
    found: &Found,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<StateMachine> {
    const FIELDS: &[&str] = &[
        "name",
        "type",
        "roleArn",
        "definition",
        "definitionFile",
        "definitionSubstitutions",
        "loggingConfiguration",
        "tracingConfiguration",
        "encryptionConfiguration",
        "tags",
        "deletionPolicy",
        "driftPolicy",
        "ignoreDifferences",
    ];
    let fields: Vec<&str> = FIELDS.iter().chain(super::versioning::FIELDS).copied().collect();
    if !check_keys(spec, "spec", &fields, ds) {
        return None;
    }
    // definitionSubstitutions values may use the global placeholders themselves.
    let mut local = string_map(spec, "definitionSubstitutions", "spec", ds);
    if let Some(node) = spec.get("definitionSubstitutions") {
        for (k, v) in local.iter_mut() {
            match substitute(v, &ctx.vars(None)) {
                Ok(s) => *v = s,
                Err(names) => {
                    let pos = node.get(k).map(|n| n.pos).unwrap_or(node.pos);
                    for n in names {
                        ds.at(pos, format!("unresolved placeholder {n}"));
                    }
                }
            }
        }
    }
    if let Value::Map(entries) = &mut spec.value {
        for (k, n) in entries.iter_mut() {
            match k.name.as_str() {
                "definitionSubstitutions" => {}
                "definition" => substitute_definition(n, &ctx.vars(Some(&local)), ds),
                _ => substitute_tree(n, &ctx.vars(None), &[], ds),
            }
        }
    }
    let name = string_field(spec, "name", "spec", ds).unwrap_or_else(|| meta.name.clone());
    if !crate::desired::is_valid_machine_name(&name) {
        let pos = spec.get("name").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(
            pos,
            format!("spec.name: \"{name}\" is not a valid state machine name (1–80 of A-Z a-z 0-9 _ -)"),
        );
    }
    let machine_type = enum_field(spec, "type", "spec", &["STANDARD", "EXPRESS"], ds)
        .as_deref()
        .and_then(MachineType::parse)
        .unwrap_or_default();
    let role_arn = required_string(spec, "roleArn", "spec", ds).unwrap_or_default();
    if !role_arn.is_empty() && !role_arn.starts_with("arn:") {
        let pos = spec.get("roleArn").map(|n| n.pos).unwrap_or(spec.pos);
        let got = spec.get("roleArn").map(describe).unwrap_or_default();
        ds.at(
            pos,
            format!("spec.roleArn: expected an IAM role ARN (arn:...), found {got}"),
        );
    }
    let definition = match (spec.get("definition"), spec.entry("definitionFile")) {
        (Some(_), Some((k, _))) => {
            ds.at(
                k.pos,
                "spec: exactly one of definition and definitionFile, not both",
            );
            None
        }
        (None, None) => {
            ds.at(spec.pos, "spec: one of definition and definitionFile is required");
            None
        }
        (Some(def), None) => {
            if matches!(def.value, Value::Map(_)) {
                check_asl(def, machine_type, ctx, ds);
                Some(def.to_json())
            } else {
                ds.at(
                    def.pos,
                    format!("spec.definition: expected a mapping, found {}", def.type_name()),
                );
                None
            }
        }
        (None, Some((_, node))) => load_definition_file(node, found, ctx, &local, machine_type, ds),
    };
    let logging = spec.get("loggingConfiguration").and_then(|l| {
        if !check_keys(
            l,
            "spec.loggingConfiguration",
            &["level", "includeExecutionData", "destinations"],
            ds,
        ) {
            return None;
        }
        let level = enum_field(
            l,
            "level",
            "spec.loggingConfiguration",
            &["OFF", "ALL", "ERROR", "FATAL"],
            ds,
        )
        .unwrap_or_else(|| "OFF".into());
        let include = bool_field(l, "includeExecutionData", "spec.loggingConfiguration", ds).unwrap_or(false);
        let mut destinations = Vec::new();
        if let Some(d) = l.get("destinations") {
            match &d.value {
                Value::Seq(items) => {
                    for it in items {
                        match it.as_str() {
                            Some(s) => destinations.push(s.to_string()),
                            None => ds.at(
                                it.pos,
                                format!(
                                    "spec.loggingConfiguration.destinations: expected a log group ARN string, found {}",
                                    describe(it)
                                ),
                            ),
                        }
                    }
                }
                _ => ds.at(
                    d.pos,
                    format!(
                        "spec.loggingConfiguration.destinations: expected a list, found {}",
                        describe(d)
                    ),
                ),
            }
        }
        Some(LoggingConfiguration {
            level,
            include_execution_data: include,
            destinations,
        })
    });
    let tracing_enabled = spec.get("tracingConfiguration").and_then(|t| {
        if !check_keys(t, "spec.tracingConfiguration", &["enabled"], ds) {
            return None;
        }
        bool_field(t, "enabled", "spec.tracingConfiguration", ds)
    });
    let encryption = spec
        .get("encryptionConfiguration")
        .and_then(|e| load_encryption(e, ds));
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    let versioning = super::versioning::load_versioning(spec, ds);
    Some(StateMachine {
        meta,
        name,
        machine_type,
        role_arn,
        definition: definition?,
        logging,
        tracing_enabled,
        encryption,
        tags,
        deletion_policy,
        versioning,
    })
}

/// `spec.encryptionConfiguration`, with AWS's rules (`InvalidEncryptionConfiguration`): `type`
/// required; a customer-managed key needs `kmsKeyId`; an AWS-owned key takes neither `kmsKeyId`
/// nor a reuse period; the reuse period is 60–900 seconds.
fn load_encryption(e: &Node, ds: &mut Diags<'_>) -> Option<EncryptionConfiguration> {
    const WHAT: &str = "spec.encryptionConfiguration";
    if !check_keys(e, WHAT, &["type", "kmsKeyId", "kmsDataKeyReusePeriodSeconds"], ds) {
        return None;
    }
    let before = ds.count;
    let kind = enum_field(
        e,
        "type",
        WHAT,
        &[
            EncryptionConfiguration::AWS_OWNED_KEY,
            EncryptionConfiguration::CUSTOMER_MANAGED_KMS_KEY,
        ],
        ds,
    );
    if e.get("type").is_none() {
        ds.at(
            e.pos,
            format!("{WHAT}.type is required (AWS_OWNED_KEY or CUSTOMER_MANAGED_KMS_KEY)"),
        );
    }
    let kms_key_id = string_field(e, "kmsKeyId", WHAT, ds);
    if let Some(id) = &kms_key_id
        && !(1..=2048).contains(&id.chars().count())
    {
        let pos = e.get("kmsKeyId").map(|n| n.pos).unwrap_or(e.pos);
        ds.at(pos, format!("{WHAT}.kmsKeyId: expected 1-2048 characters"));
    }
    let reuse = int_field(e, "kmsDataKeyReusePeriodSeconds", WHAT, 60..=900, ds);
    match kind.as_deref() {
        Some(EncryptionConfiguration::CUSTOMER_MANAGED_KMS_KEY) if e.get("kmsKeyId").is_none() => {
            ds.at(
                e.pos,
                format!("{WHAT}.kmsKeyId is required when type is CUSTOMER_MANAGED_KMS_KEY"),
            );
        }
        Some(EncryptionConfiguration::AWS_OWNED_KEY) => {
            for key in ["kmsKeyId", "kmsDataKeyReusePeriodSeconds"] {
                if let Some((k, _)) = e.entry(key) {
                    ds.at(
                        k.pos,
                        format!("{WHAT}.{key} applies only to type CUSTOMER_MANAGED_KMS_KEY"),
                    );
                }
            }
        }
        _ => {}
    }
    if ds.count > before {
        return None;
    }
    Some(EncryptionConfiguration {
        kind: kind?,
        kms_key_id,
        kms_data_key_reuse_period_seconds: reuse,
    })
}

fn load_definition_file(
    node: &Node,
    found: &Found,
    ctx: &Ctx<'_>,
    local: &BTreeMap<String, String>,
    machine_type: MachineType,
    ds: &mut Diags<'_>,
) -> Option<serde_json::Value> {
    let Some(rel) = node.as_str() else {
        ds.at(
            node.pos,
            format!(
                "spec.definitionFile: expected a path string, found {}",
                node.type_name()
            ),
        );
        return None;
    };
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() {
        ds.at(
            node.pos,
            format!("spec.definitionFile: \"{rel}\" is absolute; it must be relative to the manifest"),
        );
        return None;
    }
    let dir = found.file.parent().unwrap_or(Path::new("."));
    let joined = dir.join(rel_path);
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(c) => c,
        Err(e) => {
            ds.at(
                node.pos,
                format!("spec.definitionFile: cannot read \"{rel}\": {e}"),
            );
            return None;
        }
    };
    if !canonical.starts_with(&found.root) {
        ds.at(
            node.pos,
            format!(
                "spec.definitionFile: \"{rel}\" resolves outside {} (links followed); refused",
                found.root.display()
            ),
        );
        return None;
    }
    let text = match read_bounded(&canonical) {
        Ok(t) => t,
        Err(e) => {
            ds.at(node.pos, format!("spec.definitionFile: {e}"));
            return None;
        }
    };
    let mut fds = Diags::new(&mut *ds.out, &joined);
    let result = match parse_documents(&text) {
        Ok(docs) if docs.len() == 1 => {
            let mut def = docs.into_iter().next()?;
            if matches!(def.value, Value::Map(_)) {
                substitute_definition(&mut def, &ctx.vars(Some(local)), &mut fds);
                check_asl(&def, machine_type, ctx, &mut fds);
                Some(def.to_json())
            } else {
                fds.at(
                    def.pos,
                    format!("definition: expected a mapping, found {}", def.type_name()),
                );
                None
            }
        }
        Ok(docs) => {
            fds.at(
                Pos { line: 1, column: 1 },
                format!(
                    "definition file must hold exactly one document, found {}",
                    docs.len()
                ),
            );
            None
        }
        Err(e) => {
            fds.at(e.pos, e.message);
            None
        }
    };
    let failed = fds.count;
    ds.count += failed;
    if failed > 0 { None } else { result }
}

/// Runs the ASL validator and places each finding at the nearest node of its path: errors as
/// diagnostics, warnings into `ctx.warnings`. Each names AWS's diagnostic code.
fn check_asl(def: &Node, machine_type: MachineType, ctx: &Ctx<'_>, ds: &mut Diags<'_>) {
    let json = def.to_json();
    let options = crate::asl::Options { machine_type };
    for finding in crate::asl::validate_with(&json, &options) {
        let pos = locate(def, &finding.path);
        let message = if finding.path.0.is_empty() {
            format!("definition: {finding}")
        } else {
            format!("definition.{}: {finding}", finding.path)
        };
        if finding.is_error() {
            ds.at(pos, message);
        } else {
            ctx.warnings.borrow_mut().push(Diagnostic {
                file: ds.file.to_path_buf(),
                line: pos.line,
                column: pos.column,
                message: format!("warning: {message}"),
            });
        }
    }
}

fn locate(root: &Node, path: &AslPath) -> Pos {
    let mut node = root;
    for seg in &path.0 {
        let next = match (seg, &node.value) {
            (Segment::Key(k), Value::Map(entries)) => {
                entries.iter().find(|(key, _)| &key.name == k).map(|(_, n)| n)
            }
            (Segment::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node.pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asl_paths_map_to_the_nearest_node() {
        let docs = parse_documents(
            "StartAt: A\nStates:\n  A:\n    Type: Parallel\n    Branches:\n      - StartAt: B\n        States:\n          B: {Type: Pass, Next: Ghost}\n",
        )
        .unwrap();
        let path = AslPath::root()
            .key("States")
            .key("A")
            .key("Branches")
            .index(0)
            .key("States")
            .key("B")
            .key("Next");
        assert_eq!(locate(&docs[0], &path), Pos { line: 8, column: 33 });
        let missing = AslPath::root().key("States").key("A").key("Nope").key("Deeper");
        assert_eq!(locate(&docs[0], &missing), Pos { line: 4, column: 5 });
    }
}
