//! deploy/ stays honest: the container's toolchain satisfies the locked tree (`cargo metadata`), the
//! Kubernetes manifests render through their kustomization and validate offline against the
//! bundled schemas (`kubernetes-validate --strict`), the systemd unit verifies, and the IAM policy
//! is valid JSON listing exactly the actions the AWS wrappers in `src/aws/` call (no more, no fewer).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs kubernetes-validate --strict on `files` and requires every one reported as passed.
fn kubernetes_validate(files: &[PathBuf]) -> String {
    let tool = common::peers_bin("kubernetes-validate");
    let out = Command::new(&tool)
        .arg("--strict")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            text.contains(&format!("{name} passed")),
            "{name} not reported as passed:\n{text}"
        );
    }
    text
}

fn kustomization() -> serde_json::Value {
    let path = root().join("deploy/kubernetes/kustomization.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn kubernetes_manifests_validate_offline() {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "deployment, service, service account, namespace: {files:?}"
    );
    kubernetes_validate(&files);

    // The kustomization lists every file, the namespace first, and sets the image and the git
    // repository in one place.
    let k = kustomization();
    let listed: Vec<&str> = k["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("kustomization.yaml has no resources"))
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(
        listed.first(),
        Some(&"namespace.yaml"),
        "namespace first: {listed:?}"
    );
    let mut sorted: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
    sorted.sort();
    let on_disk: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        sorted, on_disk,
        "kustomization.yaml lists exactly the files in deploy/kubernetes"
    );
    assert_eq!(k["images"][0]["name"], "sfn-operator");
    assert_eq!(k["images"][0]["newTag"], "0.1.0");
    let literals = k["configMapGenerator"][0]["literals"].to_string();
    assert!(literals.contains("GITSYNC_REPO="), "{literals}");
    let deployment = std::fs::read_to_string(dir.join("deployment.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !deployment.contains("--repo=") && deployment.contains("name: sfn-operator-git"),
        "the deployment takes the repository from the kustomization's ConfigMap"
    );
}

/// `kubectl kustomize deploy/kubernetes` renders, the Namespace comes first, the image and the
/// repository are the kustomization's, and kubernetes-validate accepts the rendered output.
#[test]
fn the_kustomization_renders_and_validates() {
    let kubectl = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("kubectl"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    let Some(kubectl) = kubectl else {
        eprintln!(
            "skipped: kubectl is not on PATH, so the kustomization is not rendered (each file is still validated)"
        );
        return;
    };
    let out = Command::new(kubectl)
        .args(["kustomize", "deploy/kubernetes"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/kubernetes:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8_lossy(&out.stdout).into_owned();
    let first_kind = rendered
        .split("\n---\n")
        .next()
        .and_then(|doc| doc.lines().find_map(|l| l.strip_prefix("kind: ")))
        .unwrap_or_default();
    assert_eq!(
        first_kind, "Namespace",
        "the Namespace renders first:\n{rendered}"
    );
    assert!(
        rendered.contains("image: ghcr.io/example/sfn-operator:0.1.0"),
        "{rendered}"
    );
    assert!(rendered.contains("GITSYNC_REPO: https://"), "{rendered}");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = tmp.path().join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap_or_else(|e| panic!("{e}"));
    let text = kubernetes_validate(std::slice::from_ref(&file));
    for kind in [
        "namespace/",
        "serviceaccount/",
        "configmap/",
        "service/",
        "deployment/",
    ] {
        assert!(
            text.contains(kind),
            "{kind} missing from the rendered output:\n{text}"
        );
    }
}

/// The systemd unit verifies (with the built binary in place of /usr/local/bin/sfn-operator) and
/// needs no user account to exist.
#[test]
fn the_systemd_unit_verifies() {
    let path = root().join("deploy/systemd/sfn-operator.service");
    let unit = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        unit.lines().any(|l| l.trim() == "DynamicUser=yes"),
        "DynamicUser=yes: no account to create"
    );
    assert!(!unit.lines().any(|l| l.starts_with("User=")), "no fixed User=");
    let status = Command::new("systemd-analyze").arg("--version").output();
    if !status.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: systemd-analyze is not available, the unit is not verified");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = tmp.path().join("sfn-operator.service");
    let bin = env!("CARGO_BIN_EXE_sfn-operator");
    std::fs::write(&copy, unit.replace("/usr/local/bin/sfn-operator", bin)).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify:\n{text}");
    assert!(
        !text.contains("sfn-operator.service:"),
        "systemd-analyze verify complains about the unit:\n{text}"
    );
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

    let sfn = calls(&(read("src/aws/sfn.rs") + &read("src/aws/versions.rs")));
    let cloudwatch = calls(&read("src/aws/cloudwatch.rs"));
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
            "cloudwatch" => cloudwatch.contains(&snake(op)),
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
        "publish_state_machine_version",
        "list_state_machine_versions",
        "delete_state_machine_version",
        "create_state_machine_alias",
        "describe_state_machine_alias",
        "update_state_machine_alias",
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
    assert!(cloudwatch.contains("describe_alarms") == actions.contains("cloudwatch:DescribeAlarms"));
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

/// `1.94.1` → `[1, 94, 1]` (missing parts are 0).
fn version(text: &str) -> Vec<u64> {
    let mut v: Vec<u64> = text
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|e| panic!("bad version {text:?}: {e}")))
        .collect();
    v.resize(3, 0);
    v
}

/// The highest `rust_version` any package of the locked tree declares, with one that declares it.
fn locked_tree_rust_version() -> (Vec<u64>, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata --locked failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    let packages = meta["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("cargo metadata without packages"));
    packages
        .iter()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            Some((version(rv), format!("{} {}", p["name"], p["version"])))
        })
        .max()
        .unwrap_or_else(|| panic!("no package declares a rust_version"))
}

#[test]
fn rust_version_and_the_container_toolchain_satisfy_the_locked_tree() {
    let (needed, by) = locked_tree_rust_version();
    let cargo_toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_else(|e| panic!("{e}"));
    let declared = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| version(v.trim_matches('"')))
        .unwrap_or_else(|| panic!("Cargo.toml has no rust-version"));
    assert_eq!(
        declared, needed,
        "Cargo.toml's rust-version must be what the locked tree needs ({by} needs {needed:?})"
    );

    let dockerfile =
        std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap_or_else(|e| panic!("{e}"));
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let rust_images: Vec<&str> = froms
        .iter()
        .filter_map(|f| f.split_whitespace().next())
        .filter(|image| image.starts_with("rust:"))
        .collect();
    assert!(!rust_images.is_empty(), "no rust: builder in {froms:?}");
    for image in rust_images {
        let tag = &image["rust:".len()..];
        let number: String = tag.split('-').next().unwrap_or_default().to_owned();
        let toolchain = version(&number);
        assert!(
            toolchain >= needed,
            "{image} is older than the locked tree needs ({by} needs {needed:?})"
        );
        assert_eq!(
            toolchain[..2],
            declared[..2],
            "{image} and Cargo.toml's rust-version differ in major.minor"
        );
    }
    let runtime = froms.last().copied().unwrap_or_default();
    assert!(
        runtime.contains("distroless/static") || runtime.starts_with("scratch"),
        "the runtime stage is a static one: {runtime}"
    );
    let build: String = dockerfile.lines().filter(|l| l.contains("cargo build")).collect();
    assert!(build.contains("--locked"), "cargo build --locked: {build}");
    assert!(
        !build.contains("x86_64") && dockerfile.contains("TARGETARCH") && dockerfile.contains("uname -m"),
        "the target follows the host's architecture, not a hard-coded x86_64"
    );
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .unwrap_or_else(|| panic!("no USER"));
    assert!(!user.starts_with("root") && !user.starts_with("0"), "USER {user}");
    assert!(
        dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/healthz"),
        "a HEALTHCHECK on /healthz"
    );
    // The image name the README tells people to build is the one the kustomization deploys.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        readme.contains("docker build -f deploy/Dockerfile -t sfn-operator:0.1.0 ."),
        "README names the image"
    );
}
