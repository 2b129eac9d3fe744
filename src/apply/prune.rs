//! Pruning (SPEC §5): decide, from the pass's one listing of REST APIs, which owned APIs and
//! integration records are stale, and delete stale REST APIs and state machines.
//!
//! Must not: decide whether pruning runs at all (the pass does: full passes with every manifest
//! valid), or delete what `ownership` does not call prunable. The methods of stale integration
//! records are deleted in `integration.rs`, with the other changes on the same API.

use std::collections::{BTreeMap, BTreeSet};

use super::{Engine, Mode, PassScope};
use crate::aws::{delete_idempotent, retry};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey};
use crate::ownership;
use crate::report::{Action, Change, ResourceReport, Status};

/// What pruning removes from API Gateway in a pass, decided from the one listing of REST APIs.
#[derive(Debug, Default)]
pub(super) struct ApiPrunes {
    /// Owned REST APIs whose manifest is gone and whose last known policy is `Delete`.
    pub(super) apis: Vec<(ResourceKey, crate::aws::LiveApi)>,
    /// API id → the prunable integration records on it (APIs not pruned themselves: deleting an
    /// API removes its integrations with it).
    pub(super) integrations: BTreeMap<String, Vec<PruneRecord>>,
}

/// A prunable integration record, and whether a remaining manifest (reconciled in this pass or
/// not, e.g. skipped because a dependency failed) may manage the same method on the same API: then
/// only the stale record goes, never the method.
#[derive(Debug, Clone)]
pub(super) struct PruneRecord {
    pub(super) record: ownership::IntegrationRecord,
    pub(super) method_claimed: bool,
}

impl ApiPrunes {
    pub(super) fn decide(
        desired: &DesiredSet,
        apis: &[crate::aws::LiveApi],
        declared: &dyn Fn(&ResourceKey) -> bool,
        manifests_valid: bool,
        owner: &str,
    ) -> Self {
        let mut out = ApiPrunes::default();
        // An API a declared integration targets by id or name stays, whatever its tags say.
        let targeted = |a: &crate::aws::LiveApi| {
            desired.resources.iter().any(|r| match r {
                Resource::ApiIntegration(ai) => match &ai.rest_api {
                    crate::desired::RestApiTarget::Id(id) => *id == a.id,
                    crate::desired::RestApiTarget::Name(name) => *name == a.name,
                    crate::desired::RestApiTarget::Ref(_) => false,
                },
                _ => false,
            })
        };
        for a in apis {
            if let Some(key) = ownership::prunable(&a.tags, declared, manifests_valid, owner)
                && key.kind == Kind::RestApi
                && !targeted(a)
            {
                out.apis.push((key, a.clone()));
                continue;
            }
            // Could a declared integration target this API? (Conservative: by id, by name, or by a
            // RestApi manifest that owns it or would adopt it.)
            let may_target = |ai: &crate::desired::ApiIntegration| match &ai.rest_api {
                crate::desired::RestApiTarget::Id(id) => *id == a.id,
                crate::desired::RestApiTarget::Name(name) => *name == a.name,
                crate::desired::RestApiTarget::Ref(r) => ownership::owned_by(&a.tags, owner)
                    == Some(ResourceKey::new(Kind::RestApi, r.clone()))
                    || desired.resources.iter().any(
                        |x| matches!(x, Resource::RestApi(api) if api.meta.name == *r && api.name == a.name),
                    ),
            };
            let records: Vec<_> = ownership::integration_records(&a.tags)
                .into_iter()
                .filter(|r| ownership::integration_prunable(r, declared, manifests_valid, owner))
                .map(|record| PruneRecord {
                    method_claimed: desired.resources.iter().any(|r| match r {
                        Resource::ApiIntegration(ai) => {
                            ai.path == record.path && ai.http_method == record.http_method && may_target(ai)
                        }
                        _ => false,
                    }),
                    record,
                })
                .collect();
            if !records.is_empty() {
                out.integrations.insert(a.id.clone(), records);
            }
        }
        out
    }
}

impl Engine {
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
                name: key.name,
                action: Action::Delete,
                status,
                changes: vec![Change {
                    path: "stateMachine".into(),
                    before: arn.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(arn),
                message,
            });
        }
        out
    }

    /// Deletes the REST APIs pruning chose (after their integrations' pass).
    pub(super) async fn prune_apis(
        &self,
        apis: &[(ResourceKey, crate::aws::LiveApi)],
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
                changes: vec![Change {
                    path: "restApi".into(),
                    before: api.id.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(api.id.clone()),
                message,
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
