use super::*;
use serde_json::json;

fn errs(def: &Value) -> Vec<(String, String)> {
    validate(def)
        .into_iter()
        .map(|e| (e.path.to_string(), e.message))
        .collect()
}

#[test]
fn minimal_machine_is_valid() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    assert_eq!(errs(&def), vec![]);
}
