//! deploy/ stays honest: the Kubernetes manifests validate offline against the bundled schemas
//! (`kubernetes-validate --strict`), and the IAM policy is valid JSON listing exactly the actions
//! the AWS wrappers in `src/aws/` call (no more, no fewer).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn kubernetes_manifests_validate_offline() {
    let tool = common::peers_bin("kubernetes-validate");
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "deployment, service, service account, namespace: {files:?}"
    );
    let out = Command::new(&tool)
        .arg("--strict")
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            text.contains(&format!("{name} passed")),
            "{name} not reported as passed:\n{text}"
        );
    }
}

/// `.create_state_machine()` style calls in a source file.
fn calls(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices("()") {
        let head = &src[..i];
        let start = head
            .rfind(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .map_or(0, |p| p + 1);
        if start > 0 && head.as_bytes()[start - 1] == b'.' && start < i {
            out.insert(head[start..].to_owned());
        }
    }
    out
}

fn snake(camel: &str) -> String {
    let mut s = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// The HTTP verb IAM uses for an API Gateway v1 operation (IAM authorizes API Gateway management by verb).
fn apigw_verb(op: &str) -> Option<&'static str> {
    match op.split('_').next()? {
        "get" => Some("GET"),
        "create" => Some("POST"),
        "put" | "tag" => Some("PUT"),
        "update" => Some("PATCH"),
        "delete" | "untag" => Some("DELETE"),
        _ => None,
    }
}

#[test]
fn iam_policy_lists_exactly_the_calls_the_code_makes() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let policy: serde_json::Value = serde_json::from_str(&read("deploy/iam-policy.json"))
        .unwrap_or_else(|e| panic!("iam-policy.json: {e}"));
    assert_eq!(policy["Version"], "2012-10-17");
    let mut actions = BTreeSet::new();
    for st in policy["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("Statement must be a list"))
    {
        assert_eq!(st["Effect"], "Allow");
        match &st["Action"] {
            serde_json::Value::String(a) => {
                actions.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
            }
            other => panic!("bad Action {other}"),
        }
    }
    assert!(
        !actions.iter().any(|a| a.contains('*')),
        "no wildcard actions: {actions:?}"
    );

    let sfn = calls(&read("src/aws/sfn.rs"));
    let apigw = calls(&read("src/aws/apigw.rs"));
    let tagging = calls(&read("src/aws/tagging.rs"));
    let all_aws: String = std::fs::read_dir(root().join("src/aws"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let any = calls(&all_aws);

    // Every action in the policy is backed by a call.
    for a in &actions {
        let (service, op) = a.split_once(':').unwrap_or_else(|| panic!("bad action {a}"));
        let backed = match service {
            "states" => sfn.contains(&snake(op)),
            "apigateway" => apigw.iter().any(|c| apigw_verb(c) == Some(op)),
            "sts" => any.contains(&snake(op)),
            "tag" => tagging.contains(&snake(op)),
            // Creating a machine or an integration hands the referenced roles to the service.
            "iam" => op == "PassRole" && sfn.contains("create_state_machine"),
            _ => false,
        };
        assert!(
            backed,
            "{a} is in deploy/iam-policy.json but the code never calls it"
        );
    }
    // Every call the code makes is allowed.
    let sfn_ops = [
        "create_state_machine",
        "describe_state_machine",
        "update_state_machine",
        "delete_state_machine",
        "list_state_machines",
        "list_tags_for_resource",
        "tag_resource",
        "untag_resource",
    ];
    for c in sfn.iter().filter(|c| sfn_ops.contains(&c.as_str())) {
        let camel: String = c
            .split('_')
            .map(|w| format!("{}{}", &w[..1].to_ascii_uppercase(), &w[1..]))
            .collect();
        assert!(
            actions.contains(&format!("states:{camel}")),
            "the code calls states:{camel}; the policy lacks it"
        );
    }
    for c in &apigw {
        let client_op = c.starts_with("get_")
            || c.starts_with("create_")
            || c.starts_with("put_")
            || c.starts_with("update_")
            || c.starts_with("delete_")
            || c == "tag_resource"
            || c == "untag_resource";
        if client_op && let Some(verb) = apigw_verb(c) {
            assert!(
                actions.contains(&format!("apigateway:{verb}")),
                "the code calls {c} (apigateway:{verb}); the policy lacks it"
            );
        }
    }
    assert!(any.contains("get_caller_identity") == actions.contains("sts:GetCallerIdentity"));
    // The Tagging API: every call the code makes is allowed (IAM's prefix is `tag`).
    for c in tagging
        .iter()
        .filter(|c| ["get_resources", "get_tag_keys", "get_tag_values"].contains(&c.as_str()))
    {
        let camel: String = c
            .split('_')
            .map(|w| format!("{}{}", &w[..1].to_ascii_uppercase(), &w[1..]))
            .collect();
        assert!(
            actions.contains(&format!("tag:{camel}")),
            "the code calls tag:{camel}; the policy lacks it"
        );
    }
    assert!(
        tagging.contains("get_resources"),
        "src/aws/tagging.rs calls GetResources"
    );
}
