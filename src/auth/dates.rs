//! The request dates SigV4 and SigV2 use: `x-amz-date` (`yyyymmddThhmmssZ`) and the HTTP
//! `Date` header (RFC 7231).

use crate::policy::values::Timestamp;

/// `yyyymmddThhmmssZ` → Unix seconds.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        text.get(0..4)?,
        text.get(4..6)?,
        text.get(6..8)?,
        text.get(9..11)?,
        text.get(11..13)?,
        text.get(13..15)?
    );
    if !text
        .get(0..8)?
        .bytes()
        .chain(text.get(9..15)?.bytes())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    i64::try_from(Timestamp::parse(&iso)?.unix_seconds()).ok()
}

/// An RFC 7231 date (`Fri, 24 May 2013 00:00:00 GMT`) → Unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let mut it = text.split_whitespace();
    let _weekday = it.next()?;
    let day = it.next()?;
    let month = it.next()?;
    let year = it.next()?;
    let time = it.next()?;
    if it.next()? != "GMT" || it.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == month)? + 1;
    let iso = format!("{year}-{m:02}-{day:0>2}T{time}Z");
    i64::try_from(Timestamp::parse(&iso)?.unix_seconds()).ok()
}

/// `yyyymmddThhmmssZ` of Unix seconds.
pub fn format_amz_date(secs: i64) -> String {
    let iso = Timestamp::from_unix_seconds(secs).to_iso8601();
    iso.replace(['-', ':'], "")
}
