//! Pure: which live things are ours, and which of them are stale (SPEC §5).
//!
//! Ownership lives on the live side, in tags, so a fresh operator with no local files knows what it
//! owns:
//! - `sfn-operator.dev/managed-by=sfn-operator`
//! - `sfn-operator.dev/manifest=<Kind>/<metadata.name>`
//! - `sfn-operator.dev/deletion-policy=Retain|Delete` — the manifest's last known policy, which
//!   pruning obeys once the manifest is gone.

use std::collections::BTreeMap;

use crate::desired::{DeletionPolicy, ResourceKey};

/// Tag key: who manages the resource.
pub const MANAGED_BY: &str = "sfn-operator.dev/managed-by";
/// Tag value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "sfn-operator";
/// Tag key: which manifest the resource comes from.
pub const MANIFEST: &str = "sfn-operator.dev/manifest";
/// Tag key: the manifest's last known `deletionPolicy`.
pub const DELETION_POLICY: &str = "sfn-operator.dev/deletion-policy";

/// The operator's own tags for a resource.
pub fn owner_tags(key: &ResourceKey, policy: DeletionPolicy) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (MANIFEST.to_owned(), key.to_string()),
        (DELETION_POLICY.to_owned(), policy_str(policy).to_owned()),
    ])
}

fn policy_str(p: DeletionPolicy) -> &'static str {
    match p {
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete => "Delete",
    }
}

/// The manifest a live resource belongs to, if it carries both ownership tags.
pub fn owner(tags: &BTreeMap<String, String>) -> Option<ResourceKey> {
    if tags.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
        return None;
    }
    ResourceKey::parse(tags.get(MANIFEST)?)
}

/// Whether pruning may delete a live resource with these tags, given the keys the manifests
/// still declare (valid or not). Only owned resources whose last known policy is `Delete`, whose
/// manifest is gone, and only in a pass where every manifest loaded and validated.
pub fn prunable(
    tags: &BTreeMap<String, String>,
    declared: &dyn Fn(&ResourceKey) -> bool,
    manifests_valid: bool,
) -> Option<ResourceKey> {
    if !manifests_valid {
        return None;
    }
    let key = owner(tags)?;
    if tags.get(DELETION_POLICY).map(String::as_str) != Some("Delete") || declared(&key) {
        return None;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Kind;

    fn key() -> ResourceKey {
        ResourceKey::new(Kind::StateMachine, "a")
    }

    #[test]
    fn owner_needs_both_tags() {
        let mut t = owner_tags(&key(), DeletionPolicy::Delete);
        assert_eq!(owner(&t), Some(key()));
        t.remove(MANAGED_BY);
        assert_eq!(owner(&t), None);
    }

    #[test]
    fn prune_matrix() {
        let gone = |_: &ResourceKey| false;
        let present = |_: &ResourceKey| true;
        let del = owner_tags(&key(), DeletionPolicy::Delete);
        let ret = owner_tags(&key(), DeletionPolicy::Retain);
        assert_eq!(prunable(&del, &gone, true), Some(key()));
        assert_eq!(prunable(&del, &gone, false), None);
        assert_eq!(prunable(&del, &present, true), None);
        assert_eq!(prunable(&ret, &gone, true), None);
        assert_eq!(prunable(&BTreeMap::new(), &gone, true), None);
    }
}
