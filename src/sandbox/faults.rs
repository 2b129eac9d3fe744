//! Fault injection: throttling, server errors and latency, decided by a seeded RNG so a run repeats;
//! and permanent AWS errors (`errorCode`, e.g. `AccessDeniedException`) for chosen requests.

use serde::{Deserialize, Serialize};

/// What to inject, as given to `--faults` or `POST /_sandbox/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Probability (0–1) of answering with a throttling error.
    #[serde(default)]
    pub throttle: f64,
    /// Probability (0–1) of answering with a 500.
    #[serde(default)]
    pub error: f64,
    /// Probability (0–1) of carrying the request out and then dropping the connection unanswered
    /// (a lost answer: the client cannot tell whether its write happened).
    #[serde(default)]
    pub lost: f64,
    /// Delay added to every affected request.
    #[serde(default)]
    pub latency_ms: u64,
    /// RNG seed; the same seed gives the same sequence of faults.
    #[serde(default)]
    pub seed: u64,
    /// Only these operations are affected (all AWS operations when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    /// Every affected request fails with this AWS error code (e.g. `AccessDeniedException`),
    /// deterministically, instead of the random throttle/error draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Only requests whose path or body contains this text are affected (e.g. one state
    /// machine's name), so a fault can target a single resource.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_text: Option<String>,
}

impl FaultConfig {
    /// Parses and checks a JSON fault configuration (`{}` or empty: no faults).
    pub fn parse(text: &str) -> Result<Option<FaultConfig>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let config: FaultConfig =
            serde_json::from_str(text).map_err(|e| format!("invalid faults JSON: {e}"))?;
        for (name, p) in [
            ("throttle", config.throttle),
            ("error", config.error),
            ("lost", config.lost),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("faults.{name} must be between 0 and 1, got {p}"));
            }
        }
        if config.error_code.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err("faults.errorCode must not be empty".into());
        }
        if config.match_text.as_deref().is_some_and(str::is_empty) {
            return Err("faults.match must not be empty".into());
        }
        if config == FaultConfig::default() {
            Ok(None)
        } else {
            Ok(Some(config))
        }
    }
}

/// The fault to apply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    Error,
    /// Carry the request out, then drop the connection without answering.
    Lost,
    /// A permanent AWS error with this code.
    Code(String),
}

/// A configuration with its RNG.
#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    rng: fastrand::Rng,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        Faults { config, rng }
    }

    /// Decides the fate of one request for `operation` whose path and body are in `target`:
    /// the latency to add and the fault, if any.
    pub fn roll(&mut self, operation: &str, target: &str) -> (u64, Option<Fault>) {
        if !self.config.operations.is_empty() && !self.config.operations.iter().any(|o| o == operation) {
            return (0, None);
        }
        if let Some(text) = &self.config.match_text
            && !target.contains(text.as_str())
        {
            return (0, None);
        }
        if let Some(code) = &self.config.error_code {
            return (self.config.latency_ms, Some(Fault::Code(code.clone())));
        }
        let draw = self.rng.f64();
        let fault = if draw < self.config.throttle {
            Some(Fault::Throttle)
        } else if draw < self.config.throttle + self.config.error {
            Some(Fault::Error)
        } else if draw < self.config.throttle + self.config.error + self.config.lost {
            Some(Fault::Lost)
        } else {
            None
        };
        (self.config.latency_ms, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults_and_operations_filter() {
        let config = FaultConfig {
            throttle: 0.3,
            error: 0.3,
            seed: 7,
            ..FaultConfig::default()
        };
        let mut a = Faults::new(config.clone());
        let mut b = Faults::new(config);
        let xs: Vec<_> = (0..50).map(|_| a.roll("X", "")).collect();
        let ys: Vec<_> = (0..50).map(|_| b.roll("X", "")).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|(_, f)| f.is_some()) && xs.iter().any(|(_, f)| f.is_none()));
        let mut only = Faults::new(FaultConfig {
            throttle: 1.0,
            operations: vec!["A".into()],
            ..FaultConfig::default()
        });
        assert_eq!(only.roll("B", ""), (0, None));
        assert_eq!(only.roll("A", ""), (0, Some(Fault::Throttle)));
        assert_eq!(FaultConfig::parse("{}"), Ok(None));
        assert!(FaultConfig::parse(r#"{"throttle": 2}"#).is_err());
        assert!(FaultConfig::parse(r#"{"lost": -0.1}"#).is_err());
        let mut lost = Faults::new(FaultConfig {
            lost: 1.0,
            ..FaultConfig::default()
        });
        assert_eq!(lost.roll("CreateRestApi", ""), (0, Some(Fault::Lost)));
    }

    #[test]
    fn error_code_targets_matching_requests_only() {
        let config = FaultConfig::parse(
            r#"{"errorCode": "AccessDeniedException", "operations": ["CreateStateMachine"], "match": "\"name\":\"a\""}"#,
        );
        let Ok(Some(config)) = config else {
            panic!("parse: {config:?}");
        };
        assert_eq!(config.error_code.as_deref(), Some("AccessDeniedException"));
        let mut f = Faults::new(config);
        let denied = (0, Some(Fault::Code("AccessDeniedException".into())));
        // Every matching request, every time (permanent, not random).
        for _ in 0..5 {
            assert_eq!(
                f.roll("CreateStateMachine", r#"/ {"name":"a","definition":"{}"}"#),
                denied
            );
        }
        assert_eq!(f.roll("CreateStateMachine", r#"/ {"name":"b"}"#), (0, None));
        assert_eq!(f.roll("DescribeStateMachine", r#"/ {"name":"a"}"#), (0, None));
        assert!(FaultConfig::parse(r#"{"errorCode": ""}"#).is_err());
        assert!(FaultConfig::parse(r#"{"match": ""}"#).is_err());
        let round = serde_json::to_value(FaultConfig {
            error_code: Some("X".into()),
            match_text: Some("m".into()),
            ..FaultConfig::default()
        });
        assert_eq!(
            round.ok(),
            Some(
                serde_json::json!({"throttle":0.0,"error":0.0,"lost":0.0,"latencyMs":0,"seed":0,"errorCode":"X","match":"m"})
            )
        );
    }
}
