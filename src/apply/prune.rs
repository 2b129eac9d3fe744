//! Pruning (SPEC §5): delete the stale REST APIs `plan::prune` chose, and the owned state
//! machines whose manifest is gone (confirmed by a fresh tag read before each delete).
//!
//! Must not: decide whether pruning runs at all (the pass does: full passes with every manifest
//! valid), or delete what `ownership` does not call prunable. The methods of stale integration
//! records are deleted in `integrations.rs`, with the other changes on the same API.

use std::collections::{BTreeMap, BTreeSet};

use super::{Mode, PassScope, Reconciler};
use crate::aws::{delete_idempotent, retry};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey};
use crate::ownership;
use crate::report::{Action, Change, ResourceReport, Status};

impl Reconciler {
    /// Deletes owned state machines whose manifest is gone. Candidates come from the pass's
    /// Tagging API listing (every machine with our `managed-by` tag, with its tags) when there is
    /// one, else from ListStateMachines plus a tag read per machine. Either way a machine is
    /// deleted only after a fresh ListTagsForResource confirms that it is ours and prunable: the
    /// listing is eventually consistent, and a tag removed a moment ago must still protect it.
    pub(super) async fn prune_machines(
        &self,
        desired: &DesiredSet,
        scope: &PassScope,
        listing: Option<&std::sync::Arc<crate::aws::TagListing>>,
    ) -> Vec<ResourceReport> {
        let mut out = Vec::new();
        // (name, ARN, its tags when the listing has them)
        type Candidate<'a> = (String, String, Option<&'a BTreeMap<String, String>>);
        let machines: Vec<Candidate<'_>> = match listing {
            Some(listing) => listing
                .iter()
                .filter_map(|(arn, tags)| Some((machine_name(arn)?.to_owned(), arn.clone(), Some(tags))))
                .collect(),
            None => match retry(scope.deadline, || self.aws.list_machines()).await {
                Ok(m) => m.into_iter().map(|(name, arn)| (name, arn, None)).collect(),
                Err(e) => {
                    tracing::error!(error = %e, "listing state machines for pruning failed");
                    return out;
                }
            },
        };
        let wanted: BTreeSet<&str> = desired
            .resources
            .iter()
            .filter_map(|r| match r {
                Resource::StateMachine(sm) => Some(sm.name.as_str()),
                _ => None,
            })
            .collect();
        let declared = |k: &ResourceKey| desired.get(k).is_some() || scope.invalid.contains(k);
        for (name, arn, listed) in machines
            .into_iter()
            .filter(|(n, _, _)| !wanted.contains(n.as_str()))
        {
            // From the listing: only what it calls prunable is read again (and confirmed below).
            if let Some(tags) = listed
                && ownership::prunable(tags, &declared, scope.manifests_valid, &self.owner)
                    .is_none_or(|k| k.kind != Kind::StateMachine)
            {
                continue;
            }
            let tags = match retry(scope.deadline, || self.aws.machine_tags(&arn)).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, %name, "reading tags for pruning failed");
                    continue;
                }
            };
            let Some(key) = ownership::prunable(&tags, &declared, scope.manifests_valid, &self.owner) else {
                continue;
            };
            if key.kind != Kind::StateMachine {
                continue;
            }
            let (status, message) = match scope.mode {
                Mode::Diff => (Status::Pending, None),
                Mode::Apply => {
                    match delete_idempotent(scope.deadline, || self.aws.delete_machine(&arn)).await {
                        Ok(()) => (Status::Synced, None),
                        Err(e) => (Status::Failed, Some(e.to_string())),
                    }
                }
            };
            out.push(ResourceReport {
                kind: key.kind,
                name: key.name.clone(),
                action: Action::Delete,
                status,
                // Set from the outcome when the report is built.
                health: Default::default(),
                changes: vec![Change {
                    path: "stateMachine".into(),
                    before: arn.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(arn),
                message,
                ..ResourceReport::new(key.clone(), status)
            });
        }
        out
    }

    /// Deletes the REST APIs pruning chose (after their integrations' pass).
    pub(super) async fn prune_apis(
        &self,
        apis: &[(ResourceKey, crate::live::LiveApi)],
        scope: &PassScope,
    ) -> Vec<ResourceReport> {
        let mut out = Vec::new();
        for (key, api) in apis {
            let (status, message) = match scope.mode {
                Mode::Diff => (Status::Pending, None),
                Mode::Apply => match delete_idempotent(scope.deadline, || self.aws.delete_api(&api.id)).await
                {
                    Ok(()) => (Status::Synced, None),
                    Err(e) => (Status::Failed, Some(format!("deleting REST API {}: {e}", api.id))),
                },
            };
            out.push(ResourceReport {
                kind: key.kind,
                name: key.name.clone(),
                action: Action::Delete,
                status,
                // Set from the outcome when the report is built.
                health: Default::default(),
                changes: vec![Change {
                    path: "restApi".into(),
                    before: api.id.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(api.id.clone()),
                message,
                ..ResourceReport::new(key.clone(), status)
            });
        }
        out
    }
}

/// The name in a state machine's ARN (`arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME`).
fn machine_name(arn: &str) -> Option<&str> {
    let (head, name) = arn.rsplit_once(":stateMachine:")?;
    (head.contains(":states:") && !name.is_empty() && !name.contains(':')).then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn machine_names_come_from_state_machine_arns_only() {
        use super::machine_name;
        assert_eq!(
            machine_name("arn:aws:states:us-east-1:123456789012:stateMachine:m1"),
            Some("m1")
        );
        assert_eq!(
            machine_name("arn:aws:states:us-east-1:123456789012:activity:m1"),
            None
        );
        assert_eq!(
            machine_name("arn:aws:states:us-east-1:123456789012:stateMachine:m1:v1"),
            None
        );
        assert_eq!(machine_name("arn:aws:apigateway:us-east-1::/restapis/abc"), None);
    }
}
