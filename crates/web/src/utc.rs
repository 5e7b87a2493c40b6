//! Stored times are naive UTC (`techtrade_db::Timestamp`); a view that shows
//! one writes it as RFC 3339 with its `Z`, the `date-time` the document
//! promises (`#[serde(serialize_with = "techtrade_web::utc::time")]`).

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serializer;

fn rfc3339(value: &NaiveDateTime) -> String {
    value.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn time<S: Serializer>(value: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(value))
}

pub fn optional_time<S: Serializer>(value: &Option<NaiveDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_str(&rfc3339(value)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stored_time_is_written_with_its_offset() {
        #[derive(serde::Serialize)]
        struct View {
            #[serde(serialize_with = "super::time")]
            at: chrono::NaiveDateTime,
            #[serde(serialize_with = "super::optional_time")]
            maybe: Option<chrono::NaiveDateTime>,
        }
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_micro_opt(23, 0, 10, 719_971).unwrap();
        let json = serde_json::to_string(&View { at, maybe: None }).unwrap();
        assert_eq!(json, r#"{"at":"2026-12-01T23:00:10.719971Z","maybe":null}"#);
    }
}
