//! The file-ready event (spec: reports-events-api.md, "File-ready events"): the contract
//! between whoever uploads files and the pipeline. Key: the batch id; value: this JSON.

use serde::{Deserialize, Serialize};

/// One file of a batch is in the object store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReadyEvent {
    pub batch_id: String,
    pub file_id: String,
    /// A path inside the configured object store, or a full `file://` or `s3://` URL.
    pub uri: String,
    pub size: u64,
    pub file_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<String>,
}

/// Why a message is poison: it goes to the dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("missing field: {0}")]
    MissingField(String),
    #[error("ill-typed field: {0}")]
    BadField(String),
    #[error("file_count {got} disagrees with {first} in an earlier event of batch {batch_id}")]
    FileCountMismatch { batch_id: String, first: u32, got: u32 },
    #[error("object {0} does not exist")]
    ObjectMissing(String),
    #[error("object {uri} has {actual} bytes, the event says {declared}")]
    SizeMismatch { uri: String, declared: u64, actual: u64 },
    #[error("object {uri} cannot be read: {reason}")]
    ObjectUnreadable { uri: String, reason: String },
}

impl Poison {
    /// A short label for metrics (`dead_lettered{reason=…}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Poison::NotJson(_) => "not_json",
            Poison::MissingField(_) => "missing_field",
            Poison::BadField(_) => "bad_field",
            Poison::FileCountMismatch { .. } => "file_count_mismatch",
            Poison::ObjectMissing(_) => "object_missing",
            Poison::SizeMismatch { .. } => "size_mismatch",
            Poison::ObjectUnreadable { .. } => "object_unreadable",
        }
    }
}

impl FileReadyEvent {
    /// Parses and checks a message value. `vin`, `vehicle_id` and `uploaded_at` may be
    /// absent or null; the other fields are required. Ids must be non-empty and usable as
    /// path segments (no separators), `file_count` at least 1.
    pub fn parse(value: &[u8]) -> Result<Self, Poison> {
        let json: serde_json::Value =
            serde_json::from_slice(value).map_err(|e| Poison::NotJson(e.to_string()))?;
        let Some(object) = json.as_object() else {
            return Err(Poison::BadField("the event is not a JSON object".into()));
        };
        for field in ["batch_id", "file_id", "uri", "size", "file_count"] {
            if object.get(field).is_none_or(serde_json::Value::is_null) {
                return Err(Poison::MissingField(field.into()));
            }
        }
        let event: Self = serde_json::from_value(json).map_err(|e| Poison::BadField(e.to_string()))?;
        event.check()?;
        Ok(event)
    }

    fn check(&self) -> Result<(), Poison> {
        for (name, id) in [("batch_id", &self.batch_id), ("file_id", &self.file_id)] {
            let bad =
                id.is_empty() || id == "." || id == ".." || id.contains(['/', '\\', '\0']) || id.len() > 256;
            if bad {
                return Err(Poison::BadField(format!("{name} {id:?} is not a usable id")));
            }
        }
        if self.file_count == 0 {
            return Err(Poison::BadField("file_count must be at least 1".into()));
        }
        if self.uri.is_empty() {
            return Err(Poison::BadField("uri is empty".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"batch_id":"b1","file_id":"f1.rec","uri":"b1/f1.rec","size":10,"file_count":2,"vin":"WAUZZZ8V1KA000001","vehicle_id":"car-17","uploaded_at":"2026-01-21T23:17:06Z"}"#;

    fn with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut json: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        match value {
            serde_json::Value::Null if field.starts_with('-') => {
                json.as_object_mut().unwrap().remove(&field[1..]);
            }
            value => {
                json[field] = value;
            }
        }
        serde_json::to_vec(&json).unwrap()
    }

    #[test]
    fn the_spec_example_parses_and_round_trips() {
        let event = FileReadyEvent::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(event.file_count, 2);
        assert_eq!(FileReadyEvent::parse(&serde_json::to_vec(&event).unwrap()).unwrap(), event);
    }

    #[test]
    fn optional_fields_may_be_absent_or_null() {
        let bare = br#"{"batch_id":"b","file_id":"f","uri":"u","size":0,"file_count":1,"vin":null}"#;
        assert_eq!(FileReadyEvent::parse(bare).unwrap().vin, None);
    }

    #[test]
    fn every_kind_of_bad_message_is_named() {
        let kind = |value: &[u8]| FileReadyEvent::parse(value).unwrap_err().kind();
        assert_eq!(kind(b"not json"), "not_json");
        assert_eq!(kind(b"[1,2]"), "bad_field");
        for field in ["batch_id", "file_id", "uri", "size", "file_count"] {
            assert_eq!(
                kind(&with(&format!("-{field}"), serde_json::Value::Null)),
                "missing_field",
                "{field}"
            );
            assert_eq!(kind(&with(field, serde_json::Value::Null)), "missing_field", "{field} null");
        }
        assert_eq!(kind(&with("size", "ten".into())), "bad_field");
        assert_eq!(kind(&with("size", (-1).into())), "bad_field");
        assert_eq!(kind(&with("file_count", 0.into())), "bad_field");
        assert_eq!(kind(&with("file_count", 1.5.into())), "bad_field");
        assert_eq!(kind(&with("vin", 17.into())), "bad_field");
        assert_eq!(kind(&with("file_id", "../../etc/passwd".into())), "bad_field");
        assert_eq!(kind(&with("batch_id", "".into())), "bad_field");
    }
}
