//! Smithy RPC v2 CBOR (the protocol current AWS SDKs speak to CloudWatch) as JSON values: the
//! sandbox's CloudWatch handler works on the JSON data model, and this module converts a CBOR
//! request into it and an answer back.
//!
//! The conversion is by data model: integers stay integers and floats floats (a `serde_json`
//! number made from an `f64` becomes a CBOR float, as a Smithy `double` must be); timestamps
//! (CBOR tag 1) become epoch seconds, and on the way out every member whose name ends in
//! `Timestamp` or `Timestamps` is written as tag 1 (CloudWatch names all its timestamp members so).
//! Must not: know CloudWatch's operations or rules.

use ciborium::value::Value as Cbor;
use serde_json::{Map, Number, Value};

/// The tag of a Smithy timestamp: epoch seconds.
const EPOCH: u64 = 1;

/// A CBOR request body as JSON (an empty body is `{}`).
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let cbor: Cbor = ciborium::de::from_reader(bytes).map_err(|e| format!("malformed CBOR: {e}"))?;
    to_json(cbor)
}

fn to_json(cbor: Cbor) -> Result<Value, String> {
    Ok(match cbor {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let wide = i128::from(i);
            i64::try_from(wide)
                .map(Value::from)
                .or_else(|_| u64::try_from(wide).map(Value::from))
                .map_err(|_| format!("integer {wide} out of range"))?
        }
        Cbor::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cbor::Text(t) => Value::String(t),
        Cbor::Bytes(b) => Value::String(crate::encoding::base64_encode(&b)),
        Cbor::Tag(_, inner) => to_json(*inner)?,
        Cbor::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err("a map key is not text".into());
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        _ => return Err("unsupported CBOR item".into()),
    })
}

/// A JSON answer as CBOR (see the module docs for numbers and timestamps).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&to_cbor(value, false), &mut out);
    out
}

fn to_cbor(value: &Value, timestamp: bool) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) if timestamp => Cbor::Tag(EPOCH, Box::new(Cbor::Float(n.as_f64().unwrap_or(0.0)))),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            _ if n.is_f64() => Cbor::Float(n.as_f64().unwrap_or(0.0)),
            (Some(i), _) => Cbor::Integer(i.into()),
            (_, Some(u)) => Cbor::Integer(u.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(|v| to_cbor(v, timestamp)).collect()),
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| {
                    let stamp = k.ends_with("Timestamp") || k.ends_with("Timestamps");
                    (Cbor::Text(k.clone()), to_cbor(v, stamp))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_the_data_model_and_tags_timestamps() {
        let answer = json!({"Threshold": 1.0, "Period": 10, "Name": "a", "Ok": true,
            "StateUpdatedTimestamp": 1700000000.5, "Timestamps": [1.0, 2.0], "Values": [0.0]});
        let bytes = encode(&answer);
        let raw: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap_or(Cbor::Null);
        let Cbor::Map(entries) = raw else {
            panic!("not a map")
        };
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.as_text() == Some(k))
                .map(|(_, v)| v.clone())
        };
        assert!(matches!(get("Threshold"), Some(Cbor::Float(_))));
        assert!(matches!(get("Period"), Some(Cbor::Integer(_))));
        assert!(matches!(get("StateUpdatedTimestamp"), Some(Cbor::Tag(1, _))));
        assert!(matches!(get("Timestamps"), Some(Cbor::Array(items)) if matches!(items[0], Cbor::Tag(1, _))));
        assert_eq!(decode(&bytes).ok(), Some(answer));
        assert_eq!(decode(b"").ok(), Some(json!({})));
        assert!(decode(b"\xff\x00").is_err());
    }
}
