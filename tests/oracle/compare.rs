//! Comparing an execution with one recorded against real AWS (tests/oracle/README.md).

use serde_json::Value;

/// One recorded execution.
pub struct Case {
    pub line: usize,
    pub id: String,
    pub express: bool,
    pub definition: Value,
    pub input: Value,
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub masked: bool,
}

/// The cases of `tests/oracle/executions.jsonl`.
pub fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/executions.jsonl");
    let text = std::fs::read_to_string(path).expect("read executions.jsonl");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let d: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
            let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
            Case {
                line: i + 1,
                id: s("id").unwrap_or_default(),
                express: d["state_machine_type"] == "EXPRESS",
                definition: d["definition"].clone(),
                input: d["input"].clone(),
                status: s("status").unwrap_or_default(),
                output: d.get("output").cloned().filter(|_| d["status"] == "SUCCEEDED"),
                error: s("error"),
                cause: s("cause"),
                masked: d["recorded_has_masks"] == Value::Bool(true),
            }
        })
        .collect()
}

/// What an execution gave.
#[derive(Debug)]
pub struct Got {
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// `None` when `got` matches the recording, else the first difference.
pub fn compare(case: &Case, got: &Got) -> Option<String> {
    if got.status != case.status {
        return Some(format!(
            "status {} → {} (error {:?}, cause {:?})",
            case.status, got.status, got.error, got.cause
        ));
    }
    if case.status == "SUCCEEDED" {
        let want = case.output.clone().unwrap_or(Value::Null);
        let have = got.output.clone().unwrap_or(Value::Null);
        if !value_matches(&want, &have, case.masked, false) {
            return Some(format!("output {want} → {have}"));
        }
    }
    if case.status == "FAILED" {
        if !opt_matches(&case.error, &got.error, case.masked) {
            return Some(format!("error {:?} → {:?}", case.error, got.error));
        }
        if !opt_matches(&case.cause, &got.cause, case.masked) {
            return Some(format!("cause {:?} → {:?}", case.cause, got.cause));
        }
    }
    None
}

fn opt_matches(want: &Option<String>, have: &Option<String>, masked: bool) -> bool {
    match (want, have) {
        (None, None) => true,
        (Some(w), Some(h)) => w == h || (masked && masked_string(w, h)),
        _ => false,
    }
}

fn value_matches(want: &Value, have: &Value, masked: bool, timestamp_key: bool) -> bool {
    if masked && timestamp_key {
        return true;
    }
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            w.len() == h.len()
                && w.iter().all(|(k, wv)| {
                    h.get(k).is_some_and(|hv| {
                        value_matches(wv, hv, masked, k.to_ascii_lowercase().contains("timestamp"))
                    })
                })
        }
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| value_matches(a, b, masked, false))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(w), Value::String(h)) => w == h || (masked && masked_string(w, h)),
        (w, h) => w == h,
    }
}

/// Whether `have` fits a recorded string with masks: whole-value masks (`date`, ...) or
/// `<placeholder>` parts and the masked account `111111111111`, which stand for any text.
pub fn masked_string(want: &str, have: &str) -> bool {
    const WHOLE: &[&str] = &[
        "date",
        "timestamp",
        "start-time",
        "entered-time",
        "snf_role_arn",
        "sfn_role_arn",
    ];
    if WHOLE.contains(&want) {
        return true;
    }
    // Split the recorded string into literal pieces around the wildcards.
    let mut pieces: Vec<String> = vec![String::new()];
    let mut i = 0;
    while i < want.len() {
        let rest = &want[i..];
        if rest.starts_with('<')
            && let Some(end) = rest.find('>')
            && !rest[1..end].contains(' ')
        {
            pieces.push(String::new());
            i += end + 1;
            continue;
        }
        if rest.starts_with("111111111111") {
            pieces.push(String::new());
            i += 12;
            continue;
        }
        let c = rest.chars().next().expect("char");
        pieces.last_mut().expect("piece").push(c);
        i += c.len_utf8();
    }
    if pieces.len() == 1 {
        return false;
    }
    let first = &pieces[0];
    let last = &pieces[pieces.len() - 1];
    if !have.starts_with(first.as_str()) || !have[first.len()..].ends_with(last.as_str()) {
        return false;
    }
    let mut at = first.len();
    let end = have.len() - last.len();
    for p in &pieces[1..pieces.len() - 1] {
        match have[at..end].find(p.as_str()) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

/// The known mismatches: `tests/oracle/MISMATCHES.md`, one `- \`ID\` — reason` line each.
pub fn known_mismatches() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/MISMATCHES.md");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("- `")?;
            let (id, reason) = l.split_once("` — ")?;
            Some((id.to_string(), reason.trim().to_string()))
        })
        .collect()
}

#[test]
fn masks() {
    assert!(masked_string(
        "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
        "arn:aws:states:us-east-1:123456789012:stateMachine:m1"
    ));
    assert!(!masked_string("arn:<partition>:states:x", "arn:aws:states:y"));
    assert!(masked_string("date", "2026-01-01T00:00:00.000Z"));
    assert!(!masked_string("plain", "other"));
}
