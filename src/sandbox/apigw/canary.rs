//! Stage canaries (`canarySettings`), as API Gateway has them: `CreateDeployment` with
//! `canarySettings` deploys to the stage's canary instead of replacing its deployment;
//! `UpdateStage` edits the canary (`/canarySettings/percentTraffic`, `/canarySettings/deploymentId`,
//! `/canarySettings/useStageCache`, `/canarySettings/stageVariableOverrides/NAME`), removes it
//! (`remove /canarySettings`) and promotes it (`copy` from `/canarySettings/deploymentId` to
//! `/deploymentId` and from `/canarySettings/stageVariableOverrides` to `/variables`, as AWS's guide
//! does it, or `replace /deploymentId` with the canary's id). The invoke URL reads the result with
//! [`serving`].

use serde_json::{Map, Value, json};

use super::patch::{Kind, apply_patches, convert, patch_stage_setting, unescape};
use super::*;

const BAD_PERCENT: &str = "Canary traffic percentage must be between 0.0 and 100.0";

/// A percentage given as a number or a string (`"10.0"`), checked to be within 0–100.
fn percent(value: Option<&Value>) -> Result<f64, ServiceError> {
    let p = match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        None | Some(Value::Null) => Some(0.0),
        _ => None,
    };
    match p {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
        Some(_) => Err(bad_request(BAD_PERCENT)),
        None => Err(bad_request(
            "Invalid patch value specified for /canarySettings/percentTraffic",
        )),
    }
}

/// The stage's `canarySettings` for a `CreateDeployment` body that asks for a canary (`None`
/// when it does not), pointing at the new deployment `id`.
pub(super) fn from_deployment(body: &Value, id: &str) -> Result<Option<Map<String, Value>>, ServiceError> {
    let Some(settings) = body.get("canarySettings").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let settings = settings
        .as_object()
        .ok_or_else(|| bad_request("canarySettings must be an object"))?;
    let mut canary = Map::new();
    canary.insert("deploymentId".into(), json!(id));
    canary.insert(
        "percentTraffic".into(),
        json!(percent(settings.get("percentTraffic"))?),
    );
    if let Some(overrides) = settings.get("stageVariableOverrides").and_then(Value::as_object) {
        if overrides.values().any(|v| !v.is_string()) {
            return Err(bad_request("stageVariableOverrides must map names to strings"));
        }
        if !overrides.is_empty() {
            canary.insert("stageVariableOverrides".into(), Value::Object(overrides.clone()));
        }
    }
    canary.insert(
        "useStageCache".into(),
        json!(
            settings
                .get("useStageCache")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        ),
    );
    Ok(Some(canary))
}

/// The deployment a request to `stage` runs and the stage variables it sees: the canary's (with
/// `stageVariableOverrides` over the stage's variables) for `percentTraffic` % of requests, drawn
/// with the sandbox's dice, else the stage's own. The flag says whether the canary served it.
pub fn serving(stage: &Map<String, Value>) -> (String, Value, bool) {
    let base = str_of(stage, "deploymentId").to_owned();
    let variables = stage.get("variables").cloned().unwrap_or_else(|| json!({}));
    let Some(canary) = stage.get("canarySettings").and_then(Value::as_object) else {
        return (base, variables, false);
    };
    let share = canary
        .get("percentTraffic")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    // In hundredths of a percent, so 0.5 % is honoured.
    let threshold = (share * 100.0).round().clamp(0.0, 10_000.0) as u32;
    if threshold == 0 || crate::sandbox::clock::roll(10_000) >= threshold {
        return (base, variables, false);
    }
    let deployment = match str_of(canary, "deploymentId") {
        "" => base,
        id => id.to_owned(),
    };
    let mut merged = variables.as_object().cloned().unwrap_or_default();
    if let Some(overrides) = canary.get("stageVariableOverrides").and_then(Value::as_object) {
        for (k, v) in overrides {
            merged.insert(k.clone(), v.clone());
        }
    }
    (deployment, Value::Object(merged), true)
}

/// The stage's canary, created (on the stage's deployment, 0 %) when a patch addresses one the
/// stage does not have, as the console's "Create canary" does.
fn canary_mut(stage: &mut Map<String, Value>) -> Result<&mut Map<String, Value>, ServiceError> {
    if !stage.get("canarySettings").is_some_and(Value::is_object) {
        let base = str_of(stage, "deploymentId").to_owned();
        stage.insert(
            "canarySettings".into(),
            json!({"deploymentId": base, "percentTraffic": 0.0, "useStageCache": false}),
        );
    }
    sub_map(stage, "canarySettings")
}

/// Applies `UpdateStage`'s `patchOperations` in order: the canary's paths and `copy` here, the
/// stage's own fields through [`apply_patches`]. `deployments` are the API's deployment ids: the
/// stage's and the canary's deployment must be one of them after the patch.
pub(super) fn patch_stage(
    stage: &mut Map<String, Value>,
    body: &Value,
    deployments: &[String],
) -> Result<(), ServiceError> {
    let ops = match body.get("patchOperations") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(ops)) => ops.clone(),
        Some(_) => return Err(bad_request("patchOperations must be a list")),
    };
    for op in &ops {
        let verb = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let invalid_path = || bad_request(format!("Invalid patch path {path}"));
        if verb == "copy" {
            copy(stage, op, path)?;
            continue;
        }
        let Some(rest) = path.strip_prefix("/canarySettings") else {
            if !patch_stage_setting(stage, verb, path, op.get("value"))? {
                apply_patches(stage, &json!({ "patchOperations": [op] }), STAGE_PATCH)?;
            }
            continue;
        };
        if !matches!(verb, "add" | "remove" | "replace") {
            return Err(bad_request(format!("Invalid patch operation specified: {verb}")));
        }
        let remove = verb == "remove";
        let segs: Vec<String> = rest.split('/').skip(1).map(unescape).collect();
        match segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            [] if remove => {
                stage.remove("canarySettings");
            }
            ["percentTraffic"] if !remove => {
                let p = percent(op.get("value"))?;
                canary_mut(stage)?.insert("percentTraffic".into(), json!(p));
            }
            ["deploymentId"] if !remove => {
                let id = convert(Kind::Str, op.get("value"), path)?;
                canary_mut(stage)?.insert("deploymentId".into(), id);
            }
            ["useStageCache"] if !remove => {
                let v = convert(Kind::Bool, op.get("value"), path)?;
                canary_mut(stage)?.insert("useStageCache".into(), v);
            }
            ["stageVariableOverrides"] if remove => {
                canary_mut(stage)?.remove("stageVariableOverrides");
            }
            ["stageVariableOverrides", name @ ..] if !name.is_empty() => {
                let name = name.join("/");
                let canary = canary_mut(stage)?;
                let overrides = sub_map(canary, "stageVariableOverrides")?;
                if remove {
                    if overrides.remove(&name).is_none() {
                        return Err(invalid_path());
                    }
                } else {
                    overrides.insert(name, convert(Kind::Str, op.get("value"), path)?);
                }
                if overrides.is_empty() {
                    canary.remove("stageVariableOverrides");
                }
            }
            _ => return Err(invalid_path()),
        }
    }
    if !deployments.iter().any(|d| d == str_of(stage, "deploymentId")) {
        return Err(bad_request("Deployment id does not exist"));
    }
    if let Some(canary) = stage.get("canarySettings").and_then(Value::as_object) {
        let id = str_of(canary, "deploymentId");
        if !id.is_empty() && !deployments.iter().any(|d| d == id) {
            return Err(bad_request("Deployment id does not exist"));
        }
    }
    Ok(())
}

/// `copy` (the promotion in AWS's guide): `/canarySettings/deploymentId` → `/deploymentId`, and
/// `/canarySettings/stageVariableOverrides` → `/variables` (merged over the stage's variables).
fn copy(stage: &mut Map<String, Value>, op: &Value, path: &str) -> Result<(), ServiceError> {
    let from = op.get("from").and_then(Value::as_str).unwrap_or("");
    let canary = stage
        .get("canarySettings")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| bad_request(format!("Invalid patch path {from}")))?;
    match (from, path) {
        ("/canarySettings/deploymentId", "/deploymentId") => {
            let id = canary
                .get("deploymentId")
                .cloned()
                .ok_or_else(|| bad_request(format!("Invalid patch path {from}")))?;
            stage.insert("deploymentId".into(), id);
        }
        ("/canarySettings/stageVariableOverrides", "/variables") => {
            if let Some(overrides) = canary.get("stageVariableOverrides").and_then(Value::as_object) {
                let variables = sub_map(stage, "variables")?;
                for (k, v) in overrides {
                    variables.insert(k.clone(), v.clone());
                }
            }
        }
        _ => {
            return Err(bad_request(format!(
                "Invalid patch operation specified: copy from {from} to {path}"
            )));
        }
    }
    Ok(())
}
