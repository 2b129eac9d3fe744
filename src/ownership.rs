//! Pure: which live things are ours, and which of them are stale (SPEC §5).
//!
//! Ownership lives on the live side, in tags, so a fresh operator with no local files knows what it
//! owns:
//! - `sfn-operator.dev/managed-by=sfn-operator`
//! - `sfn-operator.dev/manifest=<Kind>/<metadata.name>`
//! - `sfn-operator.dev/deletion-policy=Retain|Delete` — the manifest's last known policy, which
//!   pruning obeys once the manifest is gone.
//! - `sfn-operator.dev/owner=<id>` — which operator instance (`--owner-id`) owns it. A resource
//!   with `managed-by` but no `owner` tag (made before the tag existed) belongs to `default`.
//!
//! An `ApiIntegration` has no taggable AWS object of its own (methods and integrations take no
//! tags), so it is recorded on its REST API's tags (SPEC §5), one tag per integration:
//! `sfn-operator.dev/integration/<metadata.name>=v1 <METHOD> <path> <Retain|Delete>[ <stage>]`.
//! The value holds everything a fresh operator with no local files needs to prune it: which method
//! to delete, the last known policy, and the stage to redeploy afterwards. API Gateway allows only
//! letters, digits, spaces and `_ . : / = + - @` in tag values (at most 256 characters), so the
//! path and stage are escaped: any other byte becomes `=XX` (hex), and `=` itself `=3D`.
//! A record of the `default` owner keeps the `v1` form (existing records stay valid, unchanged);
//! another owner's is `v2 <owner> <METHOD> <path> <policy>[ <stage>]`.

use std::collections::BTreeMap;

use crate::desired::{ApiIntegration, DeletionPolicy, Kind, ResourceKey};

/// Tag key: who manages the resource.
pub const MANAGED_BY: &str = "sfn-operator.dev/managed-by";
/// Tag value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "sfn-operator";
/// Tag key: which manifest the resource comes from.
pub const MANIFEST: &str = "sfn-operator.dev/manifest";
/// Tag key: the manifest's last known `deletionPolicy`.
pub const DELETION_POLICY: &str = "sfn-operator.dev/deletion-policy";
/// Tag key: the operator instance (`--owner-id`) that owns the resource.
pub const OWNER: &str = "sfn-operator.dev/owner";
/// The owner id of an instance started without `--owner-id`, and of resources tagged before the
/// owner tag existed.
pub const DEFAULT_OWNER: &str = "default";

/// The operator's own tags for a resource.
pub fn owner_tags(key: &ResourceKey, policy: DeletionPolicy, owner_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (MANIFEST.to_owned(), key.to_string()),
        (DELETION_POLICY.to_owned(), policy_str(policy).to_owned()),
        (OWNER.to_owned(), owner_id.to_owned()),
    ])
}

/// Checks an `--owner-id`: it is written as a tag value (and inside integration records), so it
/// must be 1–63 characters of `[A-Za-z0-9_.:/+@-]`.
pub fn check_owner_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'+' | b'@' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid owner id {id:?}: expected 1-63 characters of letters, digits and _ . : / + @ -"
        ))
    }
}

/// The operator instance that owns a managed resource: its `owner` tag, or `default` when it has
/// none. `None` when the resource is not managed by sfn-operator at all.
pub fn owner_id(tags: &BTreeMap<String, String>) -> Option<&str> {
    if tags.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
        return None;
    }
    Some(tags.get(OWNER).map_or(DEFAULT_OWNER, String::as_str))
}

/// Why this instance must not touch a live resource: it is managed by another owner id.
pub fn foreign_owner(tags: &BTreeMap<String, String>, ours: &str) -> Option<String> {
    match owner_id(tags) {
        Some(other) if other != ours => Some(format!(
            "owned by another sfn-operator instance (owner id {other:?}, this one is {ours:?}); \
             not touching it. Use that instance, or give this manifest another name"
        )),
        _ => None,
    }
}

fn policy_str(p: DeletionPolicy) -> &'static str {
    match p {
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete => "Delete",
    }
}

fn parse_policy(s: &str) -> Option<DeletionPolicy> {
    match s {
        "Retain" => Some(DeletionPolicy::Retain),
        "Delete" => Some(DeletionPolicy::Delete),
        _ => None,
    }
}

/// Tag-key prefix of an `ApiIntegration`'s ownership record on its REST API's tags.
pub const INTEGRATION_PREFIX: &str = "sfn-operator.dev/integration/";
/// API Gateway's limits on tags (per resource; key and value lengths in characters).
pub const MAX_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;
const RECORD_VERSION: &str = "v1";
const RECORD_VERSION_OWNED: &str = "v2";

/// Whether a tag key is an integration's ownership record (owned by that integration, not by the
/// REST API that carries it).
pub fn is_integration_record(key: &str) -> bool {
    key.starts_with(INTEGRATION_PREFIX)
}

/// Tag-key prefix of an adopted stage's record on its REST API:
/// `sfn-operator.dev/adopted-stage/<stage>=<deployment id> <configuration fingerprint>`. A stage
/// adopted as it was (serving a deployment the operator did not make, SPEC §11) is known to serve
/// that configuration while it serves that deployment, so it is not deployed again for nothing.
pub const ADOPTED_STAGE_PREFIX: &str = "sfn-operator.dev/adopted-stage/";

/// The adopted-stage record tag of `stage` (see [`ADOPTED_STAGE_PREFIX`]).
pub fn adopted_stage_tag(stage: &str, deployment: &str, fingerprint: &str) -> (String, String) {
    (
        format!("{ADOPTED_STAGE_PREFIX}{}", escape(stage)),
        format!("{} {fingerprint}", escape(deployment)),
    )
}

/// Whether a REST API tag is a record the integrations keep on it (an integration's ownership, an
/// adopted stage), not one of the API's own tags.
pub fn is_api_record(key: &str) -> bool {
    is_integration_record(key) || key.starts_with(ADOPTED_STAGE_PREFIX)
}

/// What the operator knows about an `ApiIntegration` it manages, as kept on its REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    /// The manifest's `metadata.name`.
    pub name: String,
    pub http_method: String,
    pub path: String,
    /// The manifest's last known `deletionPolicy`.
    pub policy: DeletionPolicy,
    /// The stage redeployed after a change (and after pruning).
    pub stage: Option<String>,
    /// The operator instance that owns the integration.
    pub owner: String,
}

impl IntegrationRecord {
    /// The record of a desired integration.
    pub fn of(ai: &ApiIntegration) -> Self {
        IntegrationRecord {
            name: ai.meta.name.clone(),
            http_method: ai.http_method.clone(),
            path: ai.path.clone(),
            policy: ai.deletion_policy,
            stage: ai.stage.clone(),
            owner: DEFAULT_OWNER.to_owned(),
        }
    }

    /// The same record, owned by `owner`.
    #[must_use]
    pub fn owned_by(mut self, owner: &str) -> Self {
        owner.clone_into(&mut self.owner);
        self
    }

    /// The manifest this record belongs to.
    pub fn resource_key(&self) -> ResourceKey {
        ResourceKey::new(Kind::ApiIntegration, self.name.clone())
    }

    /// The tag key: `sfn-operator.dev/integration/<metadata.name>`.
    pub fn tag_key(&self) -> String {
        format!("{INTEGRATION_PREFIX}{}", self.name)
    }

    /// The tag (key, value), or why it cannot be a tag (too long for API Gateway's limits).
    pub fn tag(&self) -> Result<(String, String), String> {
        let key = self.tag_key();
        let mut value = if self.owner == DEFAULT_OWNER {
            RECORD_VERSION.to_owned()
        } else {
            format!("{RECORD_VERSION_OWNED} {}", escape(&self.owner))
        };
        value.push_str(&format!(
            " {} {} {}",
            escape(&self.http_method),
            escape(&self.path),
            policy_str(self.policy)
        ));
        if let Some(stage) = &self.stage {
            value.push(' ');
            value.push_str(&escape(stage));
        }
        if key.chars().count() > MAX_KEY_LEN || !key.chars().all(tag_char) {
            return Err(format!(
                "cannot record {} on its REST API: tag key {key:?} is not a valid API Gateway tag key",
                self.resource_key()
            ));
        }
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(format!(
                "cannot record {} on its REST API: the record ({} characters) is over API Gateway's \
                 {MAX_VALUE_LEN}-character tag value limit; shorten the path or stage",
                self.resource_key(),
                value.chars().count()
            ));
        }
        Ok((key, value))
    }

    /// Parses a record tag; `None` when the key is not a record or the value is not understood
    /// (such a tag is never acted upon).
    pub fn parse(key: &str, value: &str) -> Option<Self> {
        let name = key.strip_prefix(INTEGRATION_PREFIX)?;
        if name.is_empty() {
            return None;
        }
        let parts: Vec<&str> = value.split(' ').collect();
        let (owner, rest) = match parts.as_slice() {
            [RECORD_VERSION, rest @ ..] => (DEFAULT_OWNER.to_owned(), rest),
            [RECORD_VERSION_OWNED, owner, rest @ ..] => (unescape(owner)?, rest),
            _ => return None,
        };
        let (method, path, policy, stage) = match rest {
            [m, p, pol] => (m, p, pol, None),
            [m, p, pol, st] => (m, p, pol, Some(unescape(st)?)),
            _ => return None,
        };
        if owner.is_empty() {
            return None;
        }
        let path = unescape(path)?;
        if !path.starts_with('/') {
            return None;
        }
        Some(IntegrationRecord {
            name: name.to_owned(),
            http_method: unescape(method)?,
            path,
            policy: parse_policy(policy)?,
            stage: stage.filter(|s| !s.is_empty()),
            owner,
        })
    }
}

/// Every integration record among a REST API's tags (unparsable ones are skipped).
pub fn integration_records(tags: &BTreeMap<String, String>) -> Vec<IntegrationRecord> {
    tags.iter()
        .filter_map(|(k, v)| IntegrationRecord::parse(k, v))
        .collect()
}

/// Whether pruning may delete the integration a record describes: it is this instance's (`ours`),
/// its last known policy is `Delete`, its manifest is gone, and every manifest loaded and
/// validated in this pass.
pub fn integration_prunable(
    record: &IntegrationRecord,
    declared: &dyn Fn(&ResourceKey) -> bool,
    manifests_valid: bool,
    ours: &str,
) -> bool {
    manifests_valid
        && record.owner == ours
        && record.policy == DeletionPolicy::Delete
        && !declared(&record.resource_key())
}

/// How many tags a resource carries after setting `set` and removing `remove`.
pub fn tag_count_after(
    live: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> usize {
    live.keys()
        .chain(set.keys())
        .filter(|k| !remove.contains(k))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// A character API Gateway allows in tag keys and values.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Escapes a record field: bytes outside `[A-Za-z0-9_.:/+@-]` become `=XX` (so no space and no
/// bare `=` remain).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'+' | b'-' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// Reverses [`escape`]; `None` on a malformed escape or invalid UTF-8.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The manifest a live resource belongs to, if it carries both ownership tags.
pub fn owner(tags: &BTreeMap<String, String>) -> Option<ResourceKey> {
    if tags.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
        return None;
    }
    ResourceKey::parse(tags.get(MANIFEST)?)
}

/// The manifest a live resource belongs to, if it carries both ownership tags and is owned by
/// this instance (`ours`).
pub fn owned_by(tags: &BTreeMap<String, String>, ours: &str) -> Option<ResourceKey> {
    if owner_id(tags)? != ours {
        return None;
    }
    owner(tags)
}

/// Whether pruning may delete a live resource with these tags, given the keys the manifests
/// still declare (valid or not). Only resources this instance (`ours`) owns, whose last known
/// policy is `Delete`, whose manifest is gone, and only in a pass where every manifest loaded and
/// validated.
pub fn prunable(
    tags: &BTreeMap<String, String>,
    declared: &dyn Fn(&ResourceKey) -> bool,
    manifests_valid: bool,
    ours: &str,
) -> Option<ResourceKey> {
    if !manifests_valid {
        return None;
    }
    let key = owned_by(tags, ours)?;
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
        let mut t = owner_tags(&key(), DeletionPolicy::Delete, DEFAULT_OWNER);
        assert_eq!(owner(&t), Some(key()));
        t.remove(MANAGED_BY);
        assert_eq!(owner(&t), None);
    }

    fn record(path: &str, policy: DeletionPolicy, stage: Option<&str>) -> IntegrationRecord {
        IntegrationRecord {
            name: "start-execution".into(),
            http_method: "POST".into(),
            path: path.into(),
            policy,
            stage: stage.map(str::to_owned),
            owner: DEFAULT_OWNER.into(),
        }
    }

    #[test]
    fn integration_record_round_trips_within_tag_rules() {
        for r in [
            record("/execution", DeletionPolicy::Delete, Some("prod")),
            record("/", DeletionPolicy::Retain, None),
            record("/items/{id}/x=y z", DeletionPolicy::Delete, Some("st=1")),
            record("/caf\u{e9}/{proxy+}", DeletionPolicy::Retain, Some("v2")),
        ] {
            let (k, v) = r.tag().unwrap();
            assert_eq!(k, "sfn-operator.dev/integration/start-execution");
            assert!(k.len() <= 128 && v.chars().count() <= 256, "{k} {v}");
            assert!(k.chars().chain(v.chars()).all(tag_char), "{k}={v}");
            assert_eq!(IntegrationRecord::parse(&k, &v), Some(r.clone()), "{v}");
        }
        let (_, v) = record("/execution", DeletionPolicy::Delete, Some("prod"))
            .tag()
            .unwrap();
        assert_eq!(v, "v1 POST /execution Delete prod");
    }

    #[test]
    fn integration_record_too_long_or_malformed() {
        let long = format!("/{}", "{x}".repeat(100));
        let err = record(&long, DeletionPolicy::Delete, None).tag().unwrap_err();
        assert!(
            err.contains("ApiIntegration/start-execution") && err.contains("256"),
            "{err}"
        );
        let k = "sfn-operator.dev/integration/a";
        for bad in [
            "",
            "v1 POST /x",
            "v2 POST /x Delete",
            "v1 POST /x Maybe",
            "v1 POST x Delete",
            "v1 POST /x=4 Delete",
            "v1 POST /x Delete prod extra",
        ] {
            assert_eq!(IntegrationRecord::parse(k, bad), None, "{bad:?}");
        }
        assert_eq!(IntegrationRecord::parse("other/a", "v1 POST /x Delete"), None);
        assert_eq!(
            IntegrationRecord::parse(INTEGRATION_PREFIX, "v1 POST /x Delete"),
            None
        );
        let tags = BTreeMap::from([
            (k.to_owned(), "v1 GET /a Delete".to_owned()),
            ("sfn-operator.dev/integration/b".to_owned(), "garbage".to_owned()),
            (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        ]);
        let recs = integration_records(&tags);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].name, "a");
        assert!(is_integration_record(k) && !is_integration_record(MANAGED_BY));
    }

    #[test]
    fn integration_prune_matrix() {
        let gone = |_: &ResourceKey| false;
        let present = |_: &ResourceKey| true;
        let del = record("/x", DeletionPolicy::Delete, None);
        let ret = record("/x", DeletionPolicy::Retain, None);
        assert!(integration_prunable(&del, &gone, true, DEFAULT_OWNER));
        assert!(!integration_prunable(&del, &gone, false, DEFAULT_OWNER));
        assert!(!integration_prunable(&del, &present, true, DEFAULT_OWNER));
        assert!(!integration_prunable(&ret, &gone, true, DEFAULT_OWNER));
        // Another instance's record is never pruned by this one, and a v1 record is `default`'s.
        assert!(!integration_prunable(&del, &gone, true, "staging"));
        let staging = del.clone().owned_by("staging");
        assert!(integration_prunable(&staging, &gone, true, "staging"));
        assert!(!integration_prunable(&staging, &gone, true, DEFAULT_OWNER));
    }

    #[test]
    fn tag_counts() {
        let live = BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "1".to_owned())]);
        let set = BTreeMap::from([("b".to_owned(), "2".to_owned()), ("c".to_owned(), "1".to_owned())]);
        assert_eq!(tag_count_after(&live, &set, &["a".to_owned()]), 2);
    }

    #[test]
    fn prune_matrix() {
        let gone = |_: &ResourceKey| false;
        let present = |_: &ResourceKey| true;
        let del = owner_tags(&key(), DeletionPolicy::Delete, DEFAULT_OWNER);
        let ret = owner_tags(&key(), DeletionPolicy::Retain, DEFAULT_OWNER);
        assert_eq!(prunable(&del, &gone, true, DEFAULT_OWNER), Some(key()));
        assert_eq!(prunable(&del, &gone, false, DEFAULT_OWNER), None);
        assert_eq!(prunable(&del, &present, true, DEFAULT_OWNER), None);
        assert_eq!(prunable(&ret, &gone, true, DEFAULT_OWNER), None);
        assert_eq!(prunable(&BTreeMap::new(), &gone, true, DEFAULT_OWNER), None);
    }

    #[test]
    fn owner_ids_keep_two_instances_apart() {
        let gone = |_: &ResourceKey| false;
        let prod = owner_tags(&key(), DeletionPolicy::Delete, "prod");
        let staging = owner_tags(&key(), DeletionPolicy::Delete, "staging");
        assert_eq!(prunable(&prod, &gone, true, "prod"), Some(key()));
        assert_eq!(prunable(&prod, &gone, true, "staging"), None);
        assert_eq!(prunable(&staging, &gone, true, "prod"), None);
        assert_eq!(prunable(&prod, &gone, true, DEFAULT_OWNER), None);
        // Tagged before the owner tag existed: `default`'s, and only `default`'s.
        let mut legacy = owner_tags(&key(), DeletionPolicy::Delete, DEFAULT_OWNER);
        legacy.remove(OWNER);
        assert_eq!(owner_id(&legacy), Some(DEFAULT_OWNER));
        assert_eq!(prunable(&legacy, &gone, true, DEFAULT_OWNER), Some(key()));
        assert_eq!(prunable(&legacy, &gone, true, "prod"), None);
        let msg = foreign_owner(&staging, "prod").unwrap_or_default();
        assert!(msg.contains("\"staging\"") && msg.contains("\"prod\""), "{msg}");
        assert_eq!(foreign_owner(&prod, "prod"), None);
        assert_eq!(foreign_owner(&BTreeMap::new(), "prod"), None);
        assert!(check_owner_id("team-a/prod").is_ok());
        for bad in ["", "a b", "x=y", &"a".repeat(64)] {
            assert!(check_owner_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integration_records_of_other_owners_round_trip() {
        let r = record("/x", DeletionPolicy::Delete, Some("prod")).owned_by("team-b");
        let (k, v) = r.tag().unwrap_or_default();
        assert_eq!(v, "v2 team-b POST /x Delete prod");
        assert_eq!(IntegrationRecord::parse(&k, &v), Some(r));
        assert_eq!(IntegrationRecord::parse(&k, "v2  POST /x Delete"), None);
    }
}
