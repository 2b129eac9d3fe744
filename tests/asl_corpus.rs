//! The real-world corpus: every definition AWS accepted must validate cleanly; the invalid one must not.

#[path = "common/corpus.rs"]
mod corpus;

use proptest::prelude::*;
use serde_json::{Value, json};
use sfn_operator::asl::validate;

use corpus::{corpus, corpus_dir, load};

#[test]
fn every_corpus_definition_is_valid() {
    let all = corpus();
    assert_eq!(all.len(), 174, "corpus size");
    let mut failures = Vec::new();
    for (p, v) in &all {
        for e in validate(v).into_iter().filter(|e| e.is_error()) {
            failures.push(format!(
                "{}: {}: {}",
                p.file_name().unwrap_or_default().to_string_lossy(),
                e.path,
                e.message
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} false positives:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_corpus_file_names_states_query_language() {
    let p =
        corpus_dir().join("asl-invalid/shared-fallback-state-jsonata__statemachine__statemachine.asl.json");
    let errs: Vec<(String, String)> = validate(&load(&p))
        .into_iter()
        .map(|e| (e.path.to_string(), e.message))
        .collect();
    // The misplaced QueryLanguage leaves the states in JSONPath mode, so their JSONata fields are
    // reported too; the root cause comes first.
    assert_eq!(
        errs[0],
        (
            "States.QueryLanguage".to_string(),
            "expected a state object, found a string".to_string()
        )
    );
    assert!(
        errs.iter().any(|e| e.0 == "States.FirstLambdaState.Arguments"),
        "{errs:?}"
    );
}

fn deep_parallel(levels: usize) -> Value {
    // Built by moving values (json! would serialize the interpolated value again: quadratic).
    let mut inner = json!({"StartAt": "Leaf", "States": {"Leaf": {"Type": "Succeed"}}});
    for _ in 0..levels {
        let mut state = json!({"Type": "Parallel", "End": true});
        state["Branches"] = Value::Array(vec![inner]);
        let mut machine = json!({"StartAt": "P", "States": {}});
        machine["States"]["P"] = state;
        inner = machine;
    }
    inner
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    // Built, validated and dropped on a big stack: serde_json's own Drop recurses.
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let def = deep_parallel(5_000);
            let started = std::time::Instant::now();
            let errs = validate(&def);
            let took = started.elapsed();
            // Every level reuses the name "P": those duplicates are real findings too.
            let msgs: Vec<String> = errs
                .iter()
                .filter(|e| e.code != sfn_operator::asl::Code::DuplicateStateName)
                .map(|e| e.message.clone())
                .collect();
            (msgs, took, errs.first().map(|e| e.path.0.len()))
        })
        .expect("spawn");
    let (msgs, took, depth) = handle.join().expect("no panic");
    assert_eq!(msgs, vec!["states nested more than 200 levels deep".to_string()]);
    assert!(
        depth.unwrap_or(0) > 200 * 4,
        "error points deep into the definition"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    // A deep payload template is walked iteratively.
    let mut params = json!({"x.$": "$.a"});
    for _ in 0..5_000 {
        let mut m = serde_json::Map::new();
        m.insert("a".into(), params);
        params = Value::Object(m);
    }
    let mut def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    def["States"]["A"]["Parameters"] = params;
    assert!(validate(&def).is_empty());
    // Dropping it would recurse 5,000 levels on the test thread's small stack.
    std::mem::forget(def);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "Pass",
            "Task",
            "Choice",
            "Wait",
            "Succeed",
            "Fail",
            "Parallel",
            "Map",
            "A",
            "B",
            "$.a",
            "$$.x",
            "$..a[?(@.b)]",
            "States.Format('{}', $.a)",
            "States.Array(",
            "{% $x %}",
            "{% (( %}",
            "States.ALL",
            "JSONata",
            "JSONPath",
            "",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "StartAt",
                        "States",
                        "Type",
                        "Next",
                        "End",
                        "A",
                        "B",
                        "Branches",
                        "ItemProcessor",
                        "Iterator",
                        "Choices",
                        "Default",
                        "Variable",
                        "And",
                        "Or",
                        "Not",
                        "StringEquals",
                        "Catch",
                        "Retry",
                        "ErrorEquals",
                        "Parameters",
                        "x.$",
                        "QueryLanguage",
                        "Condition",
                        "Seconds",
                        "ResultPath",
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_never_panic(v in arb_json()) {
        let _ = validate(&v);
    }

    #[test]
    fn mutated_corpus_never_panics(idx in 0usize..174, path_pick in any::<prop::sample::Index>(), replacement in arb_json()) {
        thread_local!(static CORPUS: Vec<Value> = corpus().into_iter().map(|(_, v)| v).collect());
        let mut def = CORPUS.with(|c| c[idx % c.len()].clone());
        // Pick a node by walking a random object/array chain and replace it.
        let mut cur = &mut def;
        let mut step = path_pick.index(1 << 20);
        loop {
            let n = match cur { Value::Object(m) => m.len(), Value::Array(a) => a.len(), _ => 0 };
            if n == 0 || step % 5 == 0 { break; }
            let i = step % n;
            step /= 3;
            cur = match cur { Value::Object(m) => m.values_mut().nth(i).expect("index in range"), Value::Array(a) => &mut a[i], _ => unreachable!() };
        }
        *cur = replacement;
        let _ = validate(&def);
    }
}
