//! MS-WSUSSS dateTime handling: accept 0–7 fraction digits with or without a zone (no zone
//! means UTC), emit UTC with `Z` (wsusss.md §1.3).

use time::{format_description::well_known::Rfc3339, OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, thiserror::Error)]
#[error("not an xs:dateTime: {0:?}")]
pub struct TimeError(String);

/// Parse an xs:dateTime as WSUS writes it (`2026-10-04T20:33:26.65455Z`,
/// `9999-12-31T23:59:59.9999999`, `0001-01-01T00:00:00`).
pub fn parse_wsus_time(text: &str) -> Result<OffsetDateTime, TimeError> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(text, &fmt)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| TimeError(text.to_owned()))
}

/// Format as UTC `YYYY-MM-DDThh:mm:ss.fffZ`.
pub fn format_wsus_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_wsus_sends() {
        for s in [
            "2026-10-04T20:33:26.65455Z",
            "2026-10-04T13:16:35.433Z",
            "9999-12-31T23:59:59.9999999",
            "0001-01-01T00:00:00",
            "2006-06-08T19:32:23.7190987Z",
            "2024-05-01T16:00:00+02:00",
        ] {
            parse_wsus_time(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        assert!(parse_wsus_time("yesterday").is_err());
    }

    #[test]
    fn no_zone_means_utc_and_formatting_round_trips() {
        let t = parse_wsus_time("2026-10-04T20:33:26.654").unwrap();
        assert_eq!(format_wsus_time(t), "2026-10-04T20:33:26.654Z");
    }
}
