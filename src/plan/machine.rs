//! A state machine: its plan against the live machine (create, update, tags), or why it must not
//! be touched (another instance owns it, or the immutable `type` differs).

use std::collections::BTreeMap;

use serde_json::Value;

use super::controls::{effective_machine, overlay_tags};
use super::{Action, Change, diff_tags, diff_values, is_adoption, tag_writes, update_or_noop};
use crate::desired::{DriftPolicy, StateMachine};
use crate::live::LiveMachine;
use crate::path::Path;

/// One write to a state machine, in the order they are made.
#[derive(Debug, Clone, PartialEq)]
pub enum MachineOp {
    /// CreateStateMachine with every tag.
    Create { tags: BTreeMap<String, String> },
    /// UpdateStateMachine (definition, role, logging, tracing, encryption) to this machine: the manifest's,
    /// with the fields it ignores (`spec.ignoreDifferences`) as live.
    Update(Box<StateMachine>),
    /// TagResource.
    Tag(BTreeMap<String, String>),
    /// UntagResource (the operator's own keys the manifest no longer implies).
    Untag(Vec<String>),
}

/// What to do to one state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachinePlan {
    pub action: Action,
    pub changes: Vec<Change>,
    /// Why nothing may be written (the changes are still shown).
    pub refusal: Option<String>,
    pub ops: Vec<MachineOp>,
    /// The changes are drift left in place (`driftPolicy: Report`).
    pub drifted: bool,
    /// The plan only adopts the machine: a `noop` whose ops write the ownership tags (SPEC §11).
    pub adopted: bool,
}

/// Plans a state machine. `tags` are the full desired tags (manifest + ownership); `owner` is
/// this instance's owner id: a machine another instance owns is refused, never touched (SPEC §5).
/// The manifest's controls (SPEC §12) apply to a machine that exists: ignored fields compare and
/// write as live, `Report` keeps the changes and drops the writes, `Ignore` compares nothing.
pub fn plan_machine(
    desired: &StateMachine,
    tags: &BTreeMap<String, String>,
    live: Option<&LiveMachine>,
    owner: &str,
) -> MachinePlan {
    let Some(live) = live else {
        let mut changes = Vec::new();
        diff_values(
            &Path::root().key("definition"),
            &Value::Null,
            &desired.definition,
            &mut changes,
        );
        return MachinePlan {
            action: Action::Create,
            changes,
            refusal: None,
            ops: vec![MachineOp::Create { tags: tags.clone() }],
            drifted: false,
            adopted: false,
        };
    };
    if let Some(why) = crate::ownership::foreign_owner(&live.tags, owner) {
        return MachinePlan {
            action: Action::Noop,
            changes: Vec::new(),
            refusal: Some(format!("state machine {:?} is {why}", desired.name)),
            ops: Vec::new(),
            drifted: false,
            adopted: false,
        };
    }
    let policy = desired.meta.controls.drift_policy;
    if policy == DriftPolicy::Ignore {
        return MachinePlan {
            action: Action::Noop,
            changes: Vec::new(),
            refusal: None,
            ops: Vec::new(),
            drifted: false,
            adopted: false,
        };
    }
    let effective = effective_machine(desired, live);
    let desired = &effective;
    let tags = &overlay_tags(tags, &live.tags, &desired.meta.controls.ignore_differences);
    let (mut changes, refusal) = config_changes(desired, live);
    let needs_update = !changes.is_empty();
    let (set, remove) = tag_writes(&live.tags, tags);
    let adopted = !needs_update && refusal.is_none() && is_adoption(&live.tags, &set, &remove);
    if !adopted {
        diff_tags(&live.tags, tags, &mut changes);
    }
    let mut ops = Vec::new();
    if needs_update {
        ops.push(MachineOp::Update(Box::new(effective.clone())));
    }
    if !set.is_empty() {
        ops.push(MachineOp::Tag(set));
    }
    if !remove.is_empty() {
        ops.push(MachineOp::Untag(remove));
    }
    let drifted = policy == DriftPolicy::Report && !changes.is_empty();
    MachinePlan {
        action: update_or_noop(&changes),
        changes,
        ops: if refusal.is_some() || drifted {
            Vec::new()
        } else {
            ops
        },
        refusal,
        drifted,
        adopted,
    }
}

/// The changes of the versioned fields (type, role, definition, logging, tracing, encryption) from `live` to
/// `desired`, and the refusal when the immutable `type` differs. Also how a published version is
/// compared with the manifest (SPEC §9).
pub fn config_changes(desired: &StateMachine, live: &LiveMachine) -> (Vec<Change>, Option<String>) {
    let mut changes = Vec::new();
    let mut refusal = None;
    if live.machine_type != desired.machine_type {
        changes.push(Change::new(
            "type",
            live.machine_type.as_str(),
            desired.machine_type.as_str(),
        ));
        refusal = Some(format!(
            "field `type` is immutable in AWS: live {}, manifest {}; the machine is not deleted to change it",
            live.machine_type.as_str(),
            desired.machine_type.as_str()
        ));
    }
    if live.role_arn != desired.role_arn {
        changes.push(Change::new(
            "roleArn",
            live.role_arn.clone(),
            desired.role_arn.clone(),
        ));
    }
    diff_values(
        &Path::root().key("definition"),
        &live.definition,
        &desired.definition,
        &mut changes,
    );
    if let Some(l) = &desired.logging {
        let to_value =
            |l: &crate::desired::LoggingConfiguration| serde_json::to_value(l).unwrap_or(Value::Null);
        diff_values(
            &Path::root().key("loggingConfiguration"),
            &to_value(&live.logging),
            &to_value(l),
            &mut changes,
        );
    }
    if let Some(e) = &desired.encryption {
        let to_value = |e: &crate::desired::EncryptionConfiguration| {
            serde_json::to_value(e.normalized()).unwrap_or(Value::Null)
        };
        diff_values(
            &Path::root().key("encryptionConfiguration"),
            &to_value(&live.encryption),
            &to_value(e),
            &mut changes,
        );
    }
    if let Some(t) = desired.tracing_enabled
        && t != live.tracing_enabled
    {
        changes.push(Change::new(
            "tracingConfiguration.enabled",
            live.tracing_enabled,
            t,
        ));
    }
    (changes, refusal)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::desired::LoggingConfiguration;
    use crate::plan::fixtures;

    fn live_of(sm: &StateMachine, tags: &BTreeMap<String, String>) -> LiveMachine {
        LiveMachine {
            arn: "arn".into(),
            machine_type: sm.machine_type,
            role_arn: sm.role_arn.clone(),
            definition: sm.definition.clone(),
            logging: LoggingConfiguration {
                level: "OFF".into(),
                include_execution_data: false,
                destinations: vec![],
            },
            tracing_enabled: false,
            encryption: crate::desired::EncryptionConfiguration::aws_owned(),
            tags: tags.clone(),
            revision_id: None,
        }
    }

    #[test]
    fn in_sync_is_noop_and_defaults_make_no_change() {
        let sm = fixtures::machine("a");
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let mut live = live_of(&sm, &tags);
        live.tags.insert("someone-else".into(), "x".into());
        let p = plan_machine(&sm, &tags, Some(&live), "default");
        assert_eq!(p.action, Action::Noop, "{:?}", p.changes);
        assert!(p.ops.is_empty());
    }

    #[test]
    fn encryption_compares_with_aws_defaults_filled_in() {
        use crate::desired::EncryptionConfiguration as Enc;
        let mut sm = fixtures::machine("a");
        let mut live = live_of(&sm, &BTreeMap::new());
        // Unset in the manifest: a customer key live is left alone.
        live.encryption = Enc {
            kind: Enc::CUSTOMER_MANAGED_KMS_KEY.into(),
            kms_key_id: Some("alias/k".into()),
            kms_data_key_reuse_period_seconds: Some(300),
        };
        assert!(config_changes(&sm, &live).0.is_empty());
        // The manifest's unset reuse period is AWS's 300.
        sm.encryption = Some(Enc {
            kms_data_key_reuse_period_seconds: None,
            ..live.encryption.clone()
        });
        assert!(config_changes(&sm, &live).0.is_empty());
        // AWS-owned named against AWS's default: no change; against a customer key: `type` and the rest.
        sm.encryption = Some(Enc::aws_owned());
        let paths: Vec<_> = config_changes(&sm, &live).0.into_iter().map(|c| c.path).collect();
        assert_eq!(
            paths,
            [
                "encryptionConfiguration.type",
                "encryptionConfiguration.kmsKeyId",
                "encryptionConfiguration.kmsDataKeyReusePeriodSeconds"
            ]
        );
        live.encryption = Enc::aws_owned();
        assert!(config_changes(&sm, &live).0.is_empty());
    }

    #[test]
    fn a_missing_machine_is_created_with_every_tag() {
        let sm = fixtures::machine("a");
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let p = plan_machine(&sm, &tags, None, "default");
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.ops, vec![MachineOp::Create { tags }]);
    }

    #[test]
    fn definition_change_descends_to_smallest_node_and_updates() {
        let mut sm = fixtures::machine("a");
        sm.definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "SumValues", "States": {"SumValues": {"Type": "Task", "End": true, "ResultSelector": {"sum.$": "$.Payload.sum"}}}}]}}});
        let mut live = live_of(&sm, &BTreeMap::new());
        live.definition["States"]["P"]["Branches"][0]["States"]["SumValues"]["ResultSelector"] =
            json!({"sum.$": "$.x"});
        live.role_arn = "arn:other".into();
        let p = plan_machine(&sm, &BTreeMap::new(), Some(&live), "default");
        let paths: Vec<_> = p.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "roleArn",
                "definition.States.P.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]"
            ]
        );
        assert!(matches!(p.ops.as_slice(), [MachineOp::Update(_)]), "{:?}", p.ops);
    }

    #[test]
    fn type_change_is_refused_naming_the_field_and_writes_nothing() {
        let sm = fixtures::machine("a");
        let mut live = live_of(&sm, &BTreeMap::new());
        live.machine_type = crate::asl::MachineType::Standard;
        live.role_arn = "arn:other".into();
        let p = plan_machine(&sm, &BTreeMap::new(), Some(&live), "default");
        assert!(p.refusal.as_deref().is_some_and(|e| e.contains("`type`")));
        assert!(p.ops.is_empty());
    }

    #[test]
    fn tag_drift_is_named_and_only_tagged() {
        let sm = fixtures::machine("a");
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let mut live = live_of(&sm, &tags);
        live.tags.insert("owner".into(), "you".into());
        live.tags.insert("sfn-operator.dev/stale".into(), "x".into());
        let p = plan_machine(&sm, &tags, Some(&live), "default");
        assert_eq!(p.changes[0].path, "tags.owner");
        assert_eq!(
            p.ops,
            vec![
                MachineOp::Tag(tags.clone()),
                MachineOp::Untag(vec!["sfn-operator.dev/stale".into()])
            ]
        );
    }

    #[test]
    fn adopting_an_untagged_machine_is_a_noop_that_writes_the_ownership_tags() {
        let sm = fixtures::machine("a");
        let key = crate::desired::ResourceKey::new(crate::desired::Kind::StateMachine, "a");
        let mut tags = BTreeMap::from([("team".to_owned(), "x".to_owned())]);
        let live = live_of(&sm, &tags);
        tags.extend(crate::ownership::owner_tags(&key, sm.deletion_policy, "default"));
        let p = plan_machine(&sm, &tags, Some(&live), "default");
        assert_eq!((p.action, p.adopted), (Action::Noop, true), "{:?}", p.changes);
        assert!(p.changes.is_empty());
        assert!(matches!(p.ops.as_slice(), [MachineOp::Tag(t)] if t.len() == 4));
        // A manifest tag to change as well: an update, as before.
        let mut other = tags.clone();
        other.insert("team".into(), "y".into());
        let p = plan_machine(&sm, &other, Some(&live), "default");
        assert_eq!((p.action, p.adopted), (Action::Update, false));
    }

    #[test]
    fn another_owners_machine_is_refused() {
        let sm = fixtures::machine("a");
        let key = crate::desired::ResourceKey::new(crate::desired::Kind::StateMachine, "a");
        let theirs = crate::ownership::owner_tags(&key, sm.deletion_policy, "team-b");
        let live = live_of(&sm, &theirs);
        let p = plan_machine(&sm, &BTreeMap::new(), Some(&live), "team-a");
        assert!(
            p.refusal.as_deref().is_some_and(|m| m.contains("team-b")),
            "{p:?}"
        );
        assert!(p.ops.is_empty());
    }
}
