//! Every definition of the executions AWS ran (tests/oracle, recorded by LocalStack's snapshot
//! tests against real AWS, Apache-2.0) must validate without an error, with its machine type.

use std::path::Path;

use serde_json::Value;
use sfn_operator::asl::{MachineType, Options, validate_with};

#[test]
fn every_definition_aws_ran_is_accepted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/executions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let options = Options {
            machine_type: match case["state_machine_type"].as_str() {
                Some("EXPRESS") => MachineType::Express,
                _ => MachineType::Standard,
            },
        };
        for e in validate_with(&case["definition"], &options)
            .into_iter()
            .filter(|e| e.is_error())
        {
            failures.push(format!("{} (line {}): {}: {e}", case["id"], i + 1, e.path));
        }
        checked += 1;
    }
    assert_eq!(checked, 467, "oracle size");
    assert!(
        failures.is_empty(),
        "{} false refusals:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
