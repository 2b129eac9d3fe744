//! The versioning fields of `kind: StateMachine` (SPEC §9): `publish`, `versionDescription`,
//! `versionRetention` and `aliases[]` with a `rollout` or a fixed `routing`; and the `rollout`
//! block itself, which `ApiIntegration.spec.rollout` shares. Every bad value is placed at its node.
//!
//! Must not: look at other documents (an `ApiIntegration`'s `stateMachineAlias` is checked by the
//! driver, `load.rs`, against the aliases read here).

use std::collections::BTreeSet;

use crate::desired::{Alias, AliasTarget, Rollout, RolloutStrategy, Versioning};
use crate::manifest::fields::{Diags, bool_field, check_keys, describe, enum_field, string_field};
use crate::manifest::yaml::{Node, Value};

/// The spec keys this file reads.
pub(super) const FIELDS: &[&str] = &["publish", "versionDescription", "versionRetention", "aliases"];

/// Reads `publish`, `versionDescription`, `versionRetention` and `aliases` of a machine's spec.
pub(super) fn load_versioning(spec: &Node, ds: &mut Diags<'_>) -> Versioning {
    let aliases = load_aliases(spec, ds);
    let publish = match (bool_field(spec, "publish", "spec", ds), aliases.is_empty()) {
        (Some(false), false) => {
            let pos = spec.get("publish").map(|n| n.pos).unwrap_or(spec.pos);
            ds.at(
                pos,
                "spec.publish: must not be false when aliases are declared (an alias routes to published versions)",
            );
            false
        }
        (Some(p), _) => p,
        (None, no_aliases) => !no_aliases,
    };
    let version_description = string_field(spec, "versionDescription", "spec", ds);
    if let Some(d) = &version_description
        && d.chars().count() > 256
    {
        let pos = spec.get("versionDescription").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.versionDescription: at most 256 characters");
    }
    let version_retention = spec
        .get("versionRetention")
        .and_then(|n| int_in(n, "spec.versionRetention", 1, 1000, ds))
        .map(|n| n as u32);
    Versioning {
        publish,
        version_description,
        version_retention,
        aliases,
    }
}

fn load_aliases(spec: &Node, ds: &mut Diags<'_>) -> Vec<Alias> {
    let Some(node) = spec.get("aliases") else {
        return Vec::new();
    };
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Null => return Vec::new(),
        _ => {
            ds.at(
                node.pos,
                format!("spec.aliases: expected a list, found {}", describe(node)),
            );
            return Vec::new();
        }
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("spec.aliases[{i}]");
        if let Some(alias) = load_alias(item, &what, ds) {
            if !seen.insert(alias.name.clone()) {
                let pos = item.get("name").map(|n| n.pos).unwrap_or(item.pos);
                ds.at(
                    pos,
                    format!("{what}.name: alias \"{}\" is declared twice", alias.name),
                );
            }
            out.push(alias);
        }
    }
    out
}

fn load_alias(item: &Node, what: &str, ds: &mut Diags<'_>) -> Option<Alias> {
    if !check_keys(item, what, &["name", "description", "rollout", "routing"], ds) {
        return None;
    }
    let name = alias_name(item, what, ds);
    let description = string_field(item, "description", what, ds);
    let target = match (item.entry("rollout"), item.get("routing")) {
        (Some((k, _)), Some(_)) => {
            ds.at(
                k.pos,
                format!("{what}: rollout and routing together; give one (routing pins fixed versions, rollout moves each new one)"),
            );
            None
        }
        (_, Some(routing)) => load_routing(routing, &format!("{what}.routing"), ds).map(AliasTarget::Routing),
        (Some((_, rollout)), None) => {
            load_rollout(rollout, &format!("{what}.rollout"), ds).map(AliasTarget::Rollout)
        }
        (None, None) => Some(AliasTarget::Rollout(Rollout::default())),
    };
    Some(Alias {
        name: name?,
        description,
        target: target?,
    })
}

/// An alias name: 1–80 of `[A-Za-z0-9_-]`, and not a number (AWS tells an alias from a version by
/// that).
fn alias_name(item: &Node, what: &str, ds: &mut Diags<'_>) -> Option<String> {
    let Some(n) = item.get("name") else {
        ds.at(item.pos, format!("{what}.name: required field missing"));
        return None;
    };
    let name = match &n.value {
        Value::String(s) => s.clone(),
        Value::Number(x) => x.to_string(),
        _ => {
            ds.at(
                n.pos,
                format!("{what}.name: expected a string, found {}", describe(n)),
            );
            return None;
        }
    };
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        ds.at(
            n.pos,
            format!("{what}.name: \"{name}\" is a number; an alias name must not be one (a number names a version)"),
        );
        return None;
    }
    if !crate::desired::is_valid_machine_name(&name) {
        ds.at(
            n.pos,
            format!("{what}.name: \"{name}\" is not a valid alias name (1–80 of A-Z a-z 0-9 _ -)"),
        );
        return None;
    }
    Some(name)
}

/// A `rollout` block: `type`, `percent`, `interval`, `alarms`.
pub(super) fn load_rollout(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<Rollout> {
    if !check_keys(node, what, &["type", "percent", "interval", "alarms"], ds) {
        return None;
    }
    let before = ds.count;
    let strategy = match enum_field(node, "type", what, &["AllAtOnce", "Canary", "Linear"], ds).as_deref() {
        Some("Canary") => RolloutStrategy::Canary,
        Some("Linear") => RolloutStrategy::Linear,
        _ => RolloutStrategy::AllAtOnce,
    };
    let defaults = Rollout::default();
    let percent = match node.get("percent") {
        None => defaults.percent,
        Some(n) => int_in(n, &format!("{what}.percent"), 1, 99, ds).unwrap_or(1) as u8,
    };
    let interval_secs = match node.get("interval") {
        None => defaults.interval_secs,
        Some(n) => interval(n, &format!("{what}.interval"), ds).unwrap_or(1),
    };
    let mut alarms = Vec::new();
    if let Some(a) = node.get("alarms") {
        match &a.value {
            Value::Seq(items) => {
                for it in items {
                    match it.as_str() {
                        Some(s) if !s.is_empty() && s.chars().count() <= 255 => alarms.push(s.to_owned()),
                        _ => ds.at(
                            it.pos,
                            format!("{what}.alarms: expected a CloudWatch alarm name (1–255 characters), found {}", describe(it)),
                        ),
                    }
                }
            }
            _ => ds.at(
                a.pos,
                format!("{what}.alarms: expected a list, found {}", describe(a)),
            ),
        }
    }
    (ds.count == before).then_some(Rollout {
        strategy,
        percent,
        interval_secs,
        alarms,
    })
}

/// `interval`: a duration like `30s`, `5m`, `1h30m`, at least one second.
fn interval(n: &Node, what: &str, ds: &mut Diags<'_>) -> Option<u64> {
    let parsed = match &n.value {
        Value::String(s) => crate::cli::parse_duration(s).ok(),
        _ => None,
    };
    match parsed {
        Some(d) if d.as_secs() >= 1 => Some(d.as_secs()),
        _ => {
            ds.at(
                n.pos,
                format!(
                    "{what}: expected a duration of at least 1s (30s, 5m, 1h30m), found {}",
                    describe(n)
                ),
            );
            None
        }
    }
}

/// A fixed `routing`: one or two `{version, weight}` of distinct versions, weights summing to 100.
fn load_routing(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<Vec<(u32, u8)>> {
    let Value::Seq(items) = &node.value else {
        ds.at(
            node.pos,
            format!("{what}: expected a list, found {}", describe(node)),
        );
        return None;
    };
    if items.is_empty() || items.len() > 2 {
        ds.at(
            node.pos,
            format!(
                "{what}: one or two versions, found {} (an alias routes to at most two)",
                items.len()
            ),
        );
        return None;
    }
    let before = ds.count;
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let w = format!("{what}[{i}]");
        if !check_keys(it, &w, &["version", "weight"], ds) {
            continue;
        }
        let field = |key: &str, lo, hi, ds: &mut Diags<'_>| match it.get(key) {
            None => {
                ds.at(it.pos, format!("{w}.{key}: required field missing"));
                None
            }
            Some(n) => int_in(n, &format!("{w}.{key}"), lo, hi, ds),
        };
        let version = field("version", 1, i64::from(u32::MAX), ds);
        let weight = field("weight", 0, 100, ds);
        if let (Some(v), Some(wt)) = (version, weight) {
            if out.iter().any(|(x, _)| i64::from(*x) == v) {
                let pos = it.get("version").map(|n| n.pos).unwrap_or(it.pos);
                ds.at(pos, format!("{w}.version: version {v} is listed twice"));
            }
            out.push((v as u32, wt as u8));
        }
    }
    if ds.count > before {
        return None;
    }
    let sum: u32 = out.iter().map(|(_, w)| u32::from(*w)).sum();
    if sum != 100 {
        ds.at(
            node.pos,
            format!("{what}: weights sum to {sum}, they must sum to 100"),
        );
        return None;
    }
    Some(out)
}

/// An integer node within `lo..=hi`.
fn int_in(n: &Node, what: &str, lo: i64, hi: i64, ds: &mut Diags<'_>) -> Option<i64> {
    match &n.value {
        Value::Number(x) if x.as_i64().is_some_and(|v| (lo..=hi).contains(&v)) => x.as_i64(),
        _ => {
            ds.at(
                n.pos,
                format!(
                    "{what}: expected an integer from {lo} to {hi}, found {}",
                    describe(n)
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::{LoadOptions, load};

    /// `(line, column, message)` of every diagnostic of `text` as one manifest file.
    fn diagnostics(text: &str) -> Vec<(u64, u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), text).unwrap();
        load(&LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            ..LoadOptions::default()
        })
        .diagnostics
        .into_iter()
        .map(|d| (d.line, d.column, d.message))
        .collect()
    }

    fn machine(aliases: &str) -> String {
        format!(
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {{name: m}}\nspec:\n  roleArn: arn:aws:iam::1:role/r\n  definition: {{StartAt: A, States: {{A: {{Type: Pass, End: true}}}}}}\n{aliases}"
        )
    }

    fn one(aliases: &str) -> (u64, u64, String) {
        let d = diagnostics(&machine(aliases));
        assert_eq!(d.len(), 1, "{d:?}");
        d.into_iter().next().unwrap()
    }

    #[test]
    fn every_bad_value_is_named_at_its_node() {
        let (l, c, m) = one(
            "  aliases:\n    - name: live\n      routing: [{version: 1, weight: 60}, {version: 2, weight: 30}]\n",
        );
        assert_eq!((l, c), (9, 16));
        assert!(m.contains("weights sum to 90"), "{m}");
        let (l, _, m) = one(
            "  aliases:\n    - name: live\n      routing:\n        - {version: 1, weight: 50}\n        - {version: 2, weight: 25}\n        - {version: 3, weight: 25}\n",
        );
        assert_eq!(l, 10);
        assert!(m.contains("one or two versions, found 3"), "{m}");
        let (l, c, m) = one("  aliases:\n    - name: 42\n");
        assert_eq!((l, c), (8, 13));
        assert!(m.contains("\"42\" is a number"), "{m}");
        let (l, c, m) = one("  aliases:\n    - name: live\n      rollout: {type: Canary, percent: 100}\n");
        assert_eq!((l, c), (9, 40));
        assert!(
            m.contains("percent: expected an integer from 1 to 99, found 100"),
            "{m}"
        );
        let (_, _, m) = one("  aliases:\n    - name: live\n      rollout: {type: Linear, percent: 0}\n");
        assert!(m.contains("found 0"), "{m}");
        let (l, c, m) = one("  aliases:\n    - name: live\n      rollout: {type: Canary, interval: soon}\n");
        assert_eq!((l, c), (9, 41));
        assert!(m.contains("interval: expected a duration"), "{m}");
        let (l, c, m) = one(
            "  aliases:\n    - name: live\n      rollout: {type: Canary}\n      routing: [{version: 1, weight: 100}]\n",
        );
        assert_eq!((l, c), (9, 7));
        assert!(m.contains("rollout and routing together"), "{m}");
        let (_, _, m) = one("  publish: false\n  aliases: [{name: live}]\n");
        assert!(m.contains("spec.publish: must not be false"), "{m}");
        let (_, _, m) = one("  versionRetention: 0\n");
        assert!(
            m.contains("versionRetention: expected an integer from 1 to 1000"),
            "{m}"
        );
    }

    #[test]
    fn a_state_machine_alias_must_be_declared_by_the_machine() {
        let text = format!(
            "{}  aliases: [{{name: live}}]\n---\napiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata: {{name: i}}\nspec:\n  restApi: {{name: api}}\n  path: /x\n  httpMethod: POST\n  integration: {{service: states, action: StartExecution}}\n  stateMachineRef: m\n  stateMachineAlias: prod\n",
            machine("")
        );
        let d = diagnostics(&text);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].0, d[0].1), (18, 22));
        assert!(
            d[0].2.contains("has no alias \"prod\" (it declares live)"),
            "{}",
            d[0].2
        );
    }

    #[test]
    fn a_declared_alias_is_started_by_the_default_template() {
        let text = format!(
            "{}  aliases: [{{name: live, rollout: {{type: Canary, percent: 5, interval: 1m30s, alarms: [a]}}}}]\n---\napiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata: {{name: i}}\nspec:\n  restApi: {{name: api}}\n  path: /x\n  httpMethod: POST\n  integration: {{service: states, action: StartExecution}}\n  stateMachineRef: m\n  stateMachineAlias: live\n",
            machine("")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), text).unwrap();
        let loaded = load(&LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            ..LoadOptions::default()
        });
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let crate::desired::Resource::StateMachine(sm) = &loaded.desired.resources[0] else {
            panic!()
        };
        assert!(sm.versioning.publish);
        let crate::desired::AliasTarget::Rollout(r) = &sm.versioning.aliases[0].target else {
            panic!()
        };
        assert_eq!((r.percent, r.interval_secs, r.alarms.len()), (5, 90, 1));
        let crate::desired::Resource::ApiIntegration(i) = &loaded.desired.resources[1] else {
            panic!()
        };
        assert!(i.integration.request_templates["application/json"].contains(":stateMachine:m:live\""));
    }

    fn integration(rollout: &str) -> String {
        format!(
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata: {{name: i}}\nspec:\n  restApi: {{name: api}}\n  path: /x\n  httpMethod: GET\n  integration: {{service: states, action: StartExecution}}\n{rollout}"
        )
    }

    #[test]
    fn an_integration_rollout_is_checked_like_an_alias_rollout() {
        let d = diagnostics(&integration(
            "  stage: prod\n  rollout: {type: Canary, percent: 100}\n",
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].0, d[0].1), (10, 36), "{d:?}");
        assert!(d[0].2.contains("spec.rollout.percent"), "{d:?}");
        let d = diagnostics(&integration(
            "  stage: prod\n  rollout: {type: Linear, interval: soon}\n",
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].2.contains("spec.rollout.interval: expected a duration"),
            "{d:?}"
        );
        let d = diagnostics(&integration("  stage: prod\n  rollout: {type: Blue}\n"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].2.contains("spec.rollout.type"), "{d:?}");
        let d = diagnostics(&integration("  rollout: {type: Canary}\n"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].0, d[0].1), (9, 3), "{d:?}");
        assert!(d[0].2.contains("needs spec.stage"), "{d:?}");
        let d = diagnostics(&integration(
            "  stage: prod\n  rollout: {type: Linear, percent: 20, interval: 2m, alarms: [api-5xx]}\n",
        ));
        assert!(d.is_empty(), "{d:?}");
    }
}
