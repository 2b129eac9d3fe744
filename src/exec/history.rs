//! History events as `GetExecutionHistory` returns them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp_ms: i64,
    /// AWS's `HistoryEventType` (`PassStateEntered`, `TaskSucceeded`, ...).
    pub kind: String,
    /// The `...EventDetails` object, if the type has one.
    pub details: Option<Value>,
}

impl Event {
    /// The field that holds this type's details (`stateEnteredEventDetails`, ...).
    pub fn details_key(&self) -> String {
        let k = self.kind.as_str();
        if k.ends_with("StateEntered") {
            return "stateEnteredEventDetails".into();
        }
        if k.ends_with("StateExited") {
            return "stateExitedEventDetails".into();
        }
        let mut out = String::with_capacity(k.len() + 12);
        let mut chars = k.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_lowercase());
        }
        out.extend(chars);
        out.push_str("EventDetails");
        out
    }

    /// The event as AWS's JSON (`timestamp` in epoch seconds).
    pub fn to_aws(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "timestamp".into(),
            serde_json::json!(self.timestamp_ms as f64 / 1000.0),
        );
        m.insert("type".into(), Value::String(self.kind.clone()));
        m.insert("id".into(), self.id.into());
        m.insert("previousEventId".into(), self.previous_event_id.into());
        if let Some(details) = &self.details {
            m.insert(self.details_key(), details.clone());
        }
        Value::Object(m)
    }
}
