//! Fault injection: throttling, server errors and latency, decided by a seeded RNG so a run repeats.

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
    /// Delay added to every affected request.
    #[serde(default)]
    pub latency_ms: u64,
    /// RNG seed; the same seed gives the same sequence of faults.
    #[serde(default)]
    pub seed: u64,
    /// Only these operations are affected (all AWS operations when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

impl FaultConfig {
    /// Parses and checks a JSON fault configuration (`{}` or empty: no faults).
    pub fn parse(text: &str) -> Result<Option<FaultConfig>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let config: FaultConfig =
            serde_json::from_str(text).map_err(|e| format!("invalid faults JSON: {e}"))?;
        for (name, p) in [("throttle", config.throttle), ("error", config.error)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("faults.{name} must be between 0 and 1, got {p}"));
            }
        }
        if config == FaultConfig::default() {
            Ok(None)
        } else {
            Ok(Some(config))
        }
    }
}

/// The fault to apply to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    Error,
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

    /// Decides the fate of one request for `operation`: the latency to add and the fault, if any.
    pub fn roll(&mut self, operation: &str) -> (u64, Option<Fault>) {
        if !self.config.operations.is_empty() && !self.config.operations.iter().any(|o| o == operation) {
            return (0, None);
        }
        let draw = self.rng.f64();
        let fault = if draw < self.config.throttle {
            Some(Fault::Throttle)
        } else if draw < self.config.throttle + self.config.error {
            Some(Fault::Error)
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
        let xs: Vec<_> = (0..50).map(|_| a.roll("X")).collect();
        let ys: Vec<_> = (0..50).map(|_| b.roll("X")).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|(_, f)| f.is_some()) && xs.iter().any(|(_, f)| f.is_none()));
        let mut only = Faults::new(FaultConfig {
            throttle: 1.0,
            operations: vec!["A".into()],
            ..FaultConfig::default()
        });
        assert_eq!(only.roll("B"), (0, None));
        assert_eq!(only.roll("A"), (0, Some(Fault::Throttle)));
        assert_eq!(FaultConfig::parse("{}"), Ok(None));
        assert!(FaultConfig::parse(r#"{"throttle": 2}"#).is_err());
    }
}
