//! The Resource Groups Tagging API (`tag:GetResources`) of the sandbox against moto server's, an
//! independent implementation: the same state machines, tagged the ways the operator meets them
//! (ours under two owner ids, a legacy one without an owner tag, someone else's, untagged), then
//! the queries the operator relies on, every page collected, must give the same answers. REST APIs
//! are checked against the sandbox alone: moto's Tagging API does not list API Gateway.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_sfn::types::Tag;
use common::{sdk_conf, start_moto};
use sfn_operator::aws::{Aws, Settings, tagging};

mod common;

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";
const DEF: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

/// (name, tags) of every machine both endpoints get.
fn machines() -> Vec<(String, Vec<(&'static str, String)>)> {
    let ours = |manifest: &str, owner: Option<&str>| {
        let mut t = vec![
            ("sfn-operator.dev/managed-by", "sfn-operator".to_owned()),
            ("sfn-operator.dev/manifest", format!("StateMachine/{manifest}")),
            ("sfn-operator.dev/deletion-policy", "Delete".to_owned()),
        ];
        if let Some(o) = owner {
            t.push(("sfn-operator.dev/owner", o.to_owned()));
        }
        t
    };
    let mut out = vec![
        ("legacy".to_owned(), ours("legacy", None)),
        ("prod-one".to_owned(), ours("prod-one", Some("prod"))),
        ("staging-one".to_owned(), ours("staging-one", Some("staging"))),
        ("someone-elses".to_owned(), vec![("team", "payments".to_owned())]),
        (
            "not-quite".to_owned(),
            vec![("sfn-operator.dev/managed-by", "terraform".to_owned())],
        ),
        ("untagged".to_owned(), vec![]),
    ];
    // More than a page of 100, so pagination is part of the answer.
    for i in 0..120 {
        let name = format!("m{i:03}");
        out.push((name.clone(), ours(&name, Some("default"))));
    }
    out
}

async fn populate(url: &str) {
    let sfn = aws_sdk_sfn::Client::new(&sdk_conf(url).await);
    for (name, tags) in machines() {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(v).build())
            .collect();
        sfn.create_state_machine()
            .name(&name)
            .definition(DEF)
            .role_arn(ROLE)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateStateMachine {name} at {url}: {}",
                    sfn_operator::aws::error_chain(&e)
                )
            });
    }
}

type Answer = BTreeMap<String, BTreeMap<String, String>>;

/// Every page of one GetResources query, as ARN → tags.
async fn query(url: &str, types: &[&str], filters: &[(&str, &[&str])], per_page: Option<i32>) -> Answer {
    let client = aws_sdk_resourcegroupstagging::Client::new(&sdk_conf(url).await);
    let mut out = Answer::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = client
            .get_resources()
            .set_resource_type_filters(
                (!types.is_empty()).then(|| types.iter().map(|t| t.to_string()).collect()),
            )
            .set_resources_per_page(per_page)
            .set_pagination_token(token.take());
        for (key, values) in filters {
            let mut f = TagFilter::builder().key(*key);
            for v in *values {
                f = f.values(*v);
            }
            req = req.tag_filters(f.build());
        }
        let page = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetResources at {url}: {}", sfn_operator::aws::error_chain(&e)));
        if let Some(n) = per_page {
            assert!(
                page.resource_tag_mapping_list().len() <= n as usize,
                "page larger than asked"
            );
        }
        for m in page.resource_tag_mapping_list() {
            let arn = m.resource_arn().unwrap_or_default().to_owned();
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            assert!(
                out.insert(arn.clone(), tags).is_none(),
                "{arn} listed twice at {url}"
            );
        }
        pages += 1;
        assert!(pages < 1000, "pagination never ends at {url}");
        match page.pagination_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return out,
        }
    }
}

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_and_moto_agree_on_get_resources() {
    let moto = start_moto().await;
    let (_state, sandbox) = common::sandbox().await;
    let sb = sandbox.endpoint_url();
    populate(&moto.url).await;
    populate(&sb).await;

    const MANAGED: (&str, &[&str]) = ("sfn-operator.dev/managed-by", &["sfn-operator"]);
    // (what, resource types, tag filters, page size)
    type Query<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a [&'a str])>, Option<i32>);
    let queries: Vec<Query> = vec![
        // The operator's own query (src/aws/tagging.rs), in pages of 100 and of 7.
        (
            "operator",
            vec![tagging::STATE_MACHINE_TYPE],
            vec![MANAGED],
            Some(100),
        ),
        (
            "operator, pages of 7",
            vec![tagging::STATE_MACHINE_TYPE],
            vec![MANAGED],
            Some(7),
        ),
        // A service-wide type filter; filters AND together, values OR.
        ("service filter", vec!["states"], vec![MANAGED], None),
        (
            "two owners",
            vec![tagging::STATE_MACHINE_TYPE],
            vec![MANAGED, ("sfn-operator.dev/owner", &["prod", "staging"])],
            None,
        ),
        ("key only", vec![], vec![("team", &[])], None),
        (
            "nothing matches",
            vec![tagging::STATE_MACHINE_TYPE],
            vec![("team", &["nobody"])],
            None,
        ),
    ];
    for (what, types, filters, per_page) in &queries {
        let from_moto = query(&moto.url, types, filters, *per_page).await;
        let from_sandbox = query(&sb, types, filters, *per_page).await;
        assert_eq!(from_sandbox, from_moto, "{what}: the sandbox and moto disagree");
    }

    // And the answers are the right ones, not merely the same.
    let ours = query(&sb, &[tagging::STATE_MACHINE_TYPE], &[MANAGED], Some(100)).await;
    assert_eq!(ours.len(), 123, "120 + legacy + prod-one + staging-one");
    for name in ["someone-elses", "not-quite", "untagged"] {
        assert!(!ours.contains_key(&arn(name)), "{name} is not ours");
    }
    assert_eq!(ours[&arn("prod-one")]["sfn-operator.dev/owner"], "prod");
    assert!(!ours[&arn("legacy")].contains_key("sfn-operator.dev/owner"));
    let two = query(
        &sb,
        &[tagging::STATE_MACHINE_TYPE],
        &[MANAGED, ("sfn-operator.dev/owner", &["prod", "staging"])],
        None,
    )
    .await;
    assert_eq!(
        two.keys().cloned().collect::<Vec<_>>(),
        [arn("prod-one"), arn("staging-one")]
    );

    // The operator's client reads the same listing from both.
    let connect = |url: String| async move {
        let settings = Settings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(url),
            account_id: Some("123456789012".into()),
            rate_limits: true,
            sandbox: true,
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        Aws::connect(&settings, deadline)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let (a, b) = (connect(moto.url.clone()).await, connect(sb.clone()).await);
    let from_moto = a
        .list_managed(tagging::STATE_MACHINE_TYPE, deadline)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let from_sandbox = b
        .list_managed(tagging::STATE_MACHINE_TYPE, deadline)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_sandbox, ours);
    assert_eq!(from_moto, ours);
}

#[tokio::test]
async fn the_sandbox_lists_tagged_rest_apis_by_their_arn() {
    let (_state, sandbox) = common::sandbox().await;
    let url = sandbox.endpoint_url();
    let apigw = aws_sdk_apigateway::Client::new(&sdk_conf(&url).await);
    let tagged = apigw
        .create_rest_api()
        .name("ours")
        .tags("sfn-operator.dev/managed-by", "sfn-operator")
        .tags(
            "sfn-operator.dev/integration/start",
            "v1 POST /execution Retain prod",
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    apigw
        .create_rest_api()
        .name("untagged")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = tagged.id().unwrap_or_default();
    let listed = query(&url, &[tagging::REST_API_TYPE], &[], None).await;
    let want = BTreeMap::from([(
        format!("arn:aws:apigateway:us-east-1::/restapis/{id}"),
        BTreeMap::from([
            (
                "sfn-operator.dev/integration/start".to_owned(),
                "v1 POST /execution Retain prod".to_owned(),
            ),
            (
                "sfn-operator.dev/managed-by".to_owned(),
                "sfn-operator".to_owned(),
            ),
        ]),
    )]);
    assert_eq!(listed, want);
    assert!(
        query(&url, &[tagging::STATE_MACHINE_TYPE], &[], None)
            .await
            .is_empty()
    );
    assert_eq!(query(&url, &["apigateway"], &[], None).await, want);
}

/// Pruning finds its candidates in one Tagging API listing (no ListStateMachines, no tag read per
/// machine), confirms each with a fresh ListTagsForResource, and deletes only what is ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_lists_once_and_deletes_only_what_is_ours() {
    let (_state, sandbox) = common::sandbox().await;
    let url = sandbox.endpoint_url();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let manifest = |name: &str| {
        format!(
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: {name}\nspec:\n  \
             roleArn: {ROLE}\n  deletionPolicy: Delete\n  definition:\n    StartAt: A\n    States:\n      \
             A: {{Type: Pass, End: true}}\n"
        )
    };
    for name in ["keep", "gone"] {
        std::fs::write(dir.path().join(format!("{name}.yaml")), manifest(name))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    // Not ours: another owner's (policy Delete, manifest gone from its set too) and an untagged one.
    let sfn = aws_sdk_sfn::Client::new(&sdk_conf(&url).await);
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    for (name, tags) in [
        (
            "theirs",
            vec![
                tag("sfn-operator.dev/managed-by", "sfn-operator"),
                tag("sfn-operator.dev/manifest", "StateMachine/theirs"),
                tag("sfn-operator.dev/deletion-policy", "Delete"),
                tag("sfn-operator.dev/owner", "prod"),
            ],
        ),
        ("unowned", vec![]),
    ] {
        sfn.create_state_machine()
            .name(name)
            .definition(DEF)
            .role_arn(ROLE)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", sfn_operator::aws::error_chain(&e)));
    }

    std::fs::remove_file(dir.path().join("gone.yaml")).unwrap_or_else(|e| panic!("{e}"));
    common::reset_requests(&url).await;
    let out = common::run_binary_async(dir.path(), &url, &["reconcile", "--once", "--prune"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = common::report(&out);
    let deleted: Vec<&str> = report["resources"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|e| e["action"] == "delete")
                .filter_map(|e| e["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(deleted, ["gone"], "{report}");
    let c: serde_json::Value = reqwest::get(format!("{url}/_sandbox/requests"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c["sfn"].get("ListStateMachines").is_none(), "{c}");
    assert_eq!(c["tagging"]["GetResources"], 1, "{c}");
    assert_eq!(
        c["sfn"]["ListTagsForResource"], 1,
        "only the candidate is read again: {c}"
    );
    assert_eq!(c["sfn"]["DeleteStateMachine"], 1, "{c}");
    for name in ["keep", "theirs", "unowned"] {
        sfn.describe_state_machine()
            .state_machine_arn(arn(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} must survive: {}", sfn_operator::aws::error_chain(&e)));
    }
}
