//! Which owned REST APIs and integration records pruning removes (SPEC §5), decided from the
//! pass's one listing of REST APIs.
//!
//! Must not: decide whether pruning runs at all (the pass does: full passes with every manifest
//! valid), or call anything prunable that `ownership` does not. The methods of stale integration
//! records are planned with the other changes on the same API (`integrations.rs`).

use std::collections::BTreeMap;

use crate::desired::{ApiIntegration, DesiredSet, Kind, Resource, ResourceKey, RestApiTarget};
use crate::live::LiveApi;
use crate::ownership;

/// What pruning removes from API Gateway in a pass, decided from the one listing of REST APIs.
#[derive(Debug, Default)]
pub struct ApiPrunes {
    /// Owned REST APIs whose manifest is gone and whose last known policy is `Delete`.
    pub apis: Vec<(ResourceKey, LiveApi)>,
    /// API id → the prunable integration records on it (APIs not pruned themselves: deleting an
    /// API removes its integrations with it).
    pub integrations: BTreeMap<String, Vec<PruneRecord>>,
}

/// A prunable integration record, and whether a remaining manifest (reconciled in this pass or
/// not, e.g. skipped because a dependency failed) may manage the same method on the same API: then
/// only the stale record goes, never the method.
#[derive(Debug, Clone)]
pub struct PruneRecord {
    pub record: ownership::IntegrationRecord,
    pub method_claimed: bool,
}

impl ApiPrunes {
    /// Decides from the listing: `declared` tells whether a manifest (valid or not) still declares
    /// a key; `owner` is this instance's owner id.
    pub fn decide(
        desired: &DesiredSet,
        apis: &[LiveApi],
        declared: &dyn Fn(&ResourceKey) -> bool,
        manifests_valid: bool,
        owner: &str,
    ) -> Self {
        let mut out = ApiPrunes::default();
        // An API a declared integration targets by id or name stays, whatever its tags say.
        let targeted = |a: &LiveApi| {
            desired.resources.iter().any(|r| match r {
                Resource::ApiIntegration(ai) => match &ai.rest_api {
                    RestApiTarget::Id(id) => *id == a.id,
                    RestApiTarget::Name(name) => *name == a.name,
                    RestApiTarget::Ref(_) => false,
                },
                _ => false,
            })
        };
        // An API whose manifest is suspended is left alone entirely (SPEC §12): not even the
        // stale integration records on it are pruned, since that writes to it.
        let suspended = |a: &LiveApi| {
            desired.resources.iter().any(|r| match r {
                Resource::RestApi(api) if r.controls().suspended => {
                    ownership::owned_by(&a.tags, owner) == Some(r.key()) || api.name == a.name
                }
                _ => false,
            })
        };
        for a in apis {
            if suspended(a) {
                continue;
            }
            if let Some(key) = ownership::prunable(&a.tags, declared, manifests_valid, owner)
                && key.kind == Kind::RestApi
                && !targeted(a)
            {
                out.apis.push((key, a.clone()));
                continue;
            }
            // Could a declared integration target this API? (Conservative: by id, by name, or by a
            // RestApi manifest that owns it or would adopt it.)
            let may_target = |ai: &ApiIntegration| match &ai.rest_api {
                RestApiTarget::Id(id) => *id == a.id,
                RestApiTarget::Name(name) => *name == a.name,
                RestApiTarget::Ref(r) => ownership::owned_by(&a.tags, owner)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DeletionPolicy, Meta, RestApi, SourceRef};

    fn desired_with(resources: Vec<Resource>) -> DesiredSet {
        DesiredSet {
            region: None,
            account_id: None,
            resources,
        }
    }

    fn rest_api(name: &str) -> RestApi {
        RestApi {
            meta: Meta {
                name: name.into(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                source: SourceRef {
                    file: "t.yaml".into(),
                    line: 1,
                    column: 1,
                },
                controls: Default::default(),
            },
            name: name.into(),
            description: None,
            endpoint_types: None,
            settings: Default::default(),
            stages: BTreeMap::new(),
            tags: BTreeMap::new(),
            deletion_policy: DeletionPolicy::Delete,
        }
    }

    fn owned_api(id: &str, name: &str, owner: &str, records: &[&ApiIntegration]) -> LiveApi {
        let key = ResourceKey::new(Kind::RestApi, name);
        let mut tags = ownership::owner_tags(&key, DeletionPolicy::Delete, owner);
        for ai in records {
            let (k, v) = ownership::IntegrationRecord::of(ai)
                .owned_by(owner)
                .tag()
                .unwrap();
            tags.insert(k, v);
        }
        LiveApi {
            id: id.into(),
            name: name.into(),
            description: None,
            endpoint_types: vec!["EDGE".into()],
            settings: Default::default(),
            tags,
        }
    }

    #[test]
    fn an_owned_api_whose_manifest_is_gone_is_pruned_and_another_owners_never() {
        let desired = desired_with(vec![]);
        let ours = owned_api("a1", "api", "default", &[]);
        let theirs = owned_api("a2", "other", "team-b", &[]);
        let declared = |k: &ResourceKey| desired.get(k).is_some();
        let p = ApiPrunes::decide(&desired, &[ours, theirs], &declared, true, "default");
        assert_eq!(p.apis.len(), 1);
        assert_eq!(p.apis[0].1.id, "a1");
        // With a manifest invalid, nothing is prunable.
        let p = ApiPrunes::decide(
            &desired,
            &[owned_api("a1", "api", "default", &[])],
            &declared,
            false,
            "default",
        );
        assert!(p.apis.is_empty());
    }

    #[test]
    fn a_stale_record_on_a_kept_api_is_pruned_and_a_claimed_method_is_handed_over() {
        let gone = crate::plan::fixtures::integration("gone", "POST", "/execution");
        let desired = desired_with(vec![Resource::RestApi(rest_api("api"))]);
        let live = owned_api("a1", "api", "default", &[&gone]);
        let declared = |k: &ResourceKey| desired.get(k).is_some();
        let p = ApiPrunes::decide(&desired, std::slice::from_ref(&live), &declared, true, "default");
        assert!(p.apis.is_empty());
        let records = &p.integrations["a1"];
        assert_eq!(records.len(), 1);
        assert!(!records[0].method_claimed);
        // A new manifest for the same method on the same API: only the record goes.
        let mut successor = crate::plan::fixtures::integration("successor", "POST", "/execution");
        successor.rest_api = RestApiTarget::Ref("api".into());
        let desired = desired_with(vec![
            Resource::RestApi(rest_api("api")),
            Resource::ApiIntegration(successor),
        ]);
        let declared = |k: &ResourceKey| desired.get(k).is_some();
        let p = ApiPrunes::decide(&desired, &[live], &declared, true, "default");
        assert!(p.integrations["a1"][0].method_claimed);
    }

    #[test]
    fn nothing_on_a_suspended_api_is_pruned() {
        let gone = crate::plan::fixtures::integration("gone", "POST", "/execution");
        let mut api = rest_api("api");
        api.meta.controls.suspended = true;
        let desired = desired_with(vec![Resource::RestApi(api)]);
        let live = owned_api("a1", "api", "default", &[&gone]);
        let declared = |k: &ResourceKey| desired.get(k).is_some();
        let p = ApiPrunes::decide(&desired, &[live], &declared, true, "default");
        assert!(p.apis.is_empty());
        assert!(p.integrations.is_empty(), "{:?}", p.integrations);
    }
}
