//! Typed condition values: exact decimals, timestamps, IP networks and ARN segments,
//! each parsed the same way from a policy and from a request.

use std::cmp::Ordering;
use std::net::IpAddr;

/// Longest numeric text accepted (digits are kept exactly).
const MAX_NUMBER_LEN: usize = 256;

/// An exact decimal number: `0.d1d2d3… × 10^exp`, with no leading or trailing zero
/// digit (zero has no digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    digits: Box<[u8]>,
    exp: i64,
}

impl Decimal {
    /// Parse `[+-]digits[.digits][e[+-]digits]`; at least one digit.
    pub fn parse(text: &str) -> Option<Decimal> {
        if text.is_empty() || text.len() > MAX_NUMBER_LEN {
            return None;
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(sign @ (b'+' | b'-')) = bytes.first() {
            negative = *sign == b'-';
            i = 1;
        }
        let mut digits = Vec::new();
        let mut point: i64 = 0;
        let mut seen_digit = false;
        let mut seen_dot = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' => {
                    seen_digit = true;
                    digits.push(b - b'0');
                    if !seen_dot {
                        point += 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let exp_text = text.get(i + 1..)?;
            let digits_only = exp_text.trim_start_matches(['+', '-']);
            if digits_only.is_empty()
                || digits_only.len() > 6
                || exp_text.len() - digits_only.len() > 1
            {
                return None;
            }
            point += exp_text.parse::<i64>().ok()?;
        }
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        point -= i64::try_from(leading).ok()?;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits: Box::new([]),
                exp: 0,
            });
        }
        Some(Decimal {
            negative,
            digits: digits.into_boxed_slice(),
            exp: point,
        })
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .exp
                .cmp(&other.exp)
                .then_with(|| self.digits.cmp(&other.digits)),
        }
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A point in time, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i128);

impl Timestamp {
    /// Parse an ISO 8601 date or date-time (`2024-01-31`, `2024-01-31T10:00:00Z`,
    /// `…T10:00:00.5+02:00`, no zone meaning UTC) or epoch seconds (`1706695200`,
    /// with an optional fraction).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let body = text.strip_prefix('-').unwrap_or(text);
        if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return parse_epoch(text);
        }
        parse_iso8601(text)
    }

    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp(i128::from(secs) * 1_000_000_000)
    }

    /// ISO 8601 in UTC with seconds (`2024-01-31T10:00:00Z`).
    pub fn to_iso8601(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    /// RFC 3339 in UTC with milliseconds (`2024-01-31T10:00:00.123Z`).
    pub fn to_rfc3339_millis(self) -> String {
        let seconds = self.to_iso8601();
        let millis = self.0.rem_euclid(1_000_000_000) / 1_000_000;
        format!(
            "{}.{millis:03}Z",
            seconds.strip_suffix('Z').unwrap_or(&seconds)
        )
    }

    pub fn unix_seconds(self) -> i128 {
        self.0.div_euclid(1_000_000_000)
    }
}

fn parse_epoch(text: &str) -> Option<Timestamp> {
    let d = Decimal::parse(text)?;
    // Scale to nanoseconds exactly; reject absurd magnitudes.
    if d.digits.is_empty() {
        return Some(Timestamp(0));
    }
    if d.exp > 15 {
        return None;
    }
    let mut nanos: i128 = 0;
    let scale_exp = d.exp + 9; // digits before the nanosecond point
    for (i, digit) in d.digits.iter().enumerate() {
        let pos = i64::try_from(i).ok()?;
        if pos >= scale_exp {
            break; // below a nanosecond: truncated
        }
        nanos = nanos * 10 + i128::from(*digit);
    }
    let used = i64::try_from(d.digits.len()).ok()?.min(scale_exp.max(0));
    for _ in used..scale_exp {
        nanos *= 10;
    }
    Some(Timestamp(if d.negative { -nanos } else { nanos }))
}

fn take_num(s: &str, n: usize) -> Option<(i64, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, s.get(n..)?))
}

fn expect(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let (year, rest) = take_num(text, 4)?;
    let (month, rest) = take_num(expect(rest, '-')?, 2)?;
    let (day, mut rest) = take_num(expect(rest, '-')?, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    if let Some(time) = rest.strip_prefix(['T', 't']) {
        let (h, r) = take_num(time, 2)?;
        let (mi, mut r) = take_num(expect(r, ':')?, 2)?;
        hour = h;
        minute = mi;
        if let Some(sec) = r.strip_prefix(':') {
            let (s, r2) = take_num(sec, 2)?;
            second = s;
            r = r2;
            if let Some(frac) = r.strip_prefix('.') {
                let n = frac.bytes().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 || n > 9 {
                    return None;
                }
                let (f, r3) = take_num(frac, n)?;
                nanos = f * 10i64.pow(u32::try_from(9 - n).ok()?);
                r = r3;
            }
        }
        rest = r;
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
    }
    let offset_secs = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest.get(1..)?;
            let (oh, r) = take_num(r, 2)?;
            let r = r.strip_prefix(':').unwrap_or(r);
            let (om, r) = take_num(r, 2)?;
            if !r.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(Timestamp(
        i128::from(secs) * 1_000_000_000 + i128::from(nanos),
    ))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i128) -> (i128, i128, i128) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y, m, d)
}

/// An IPv4 or IPv6 network. IPv4-mapped IPv6 networks are held as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or `addr/n`.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        // `::ffff:a.b.c.d/n` with n ≥ 96 is the IPv4 network `a.b.c.d/(n-96)`.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Some(Cidr {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Some(Cidr { addr, prefix })
    }

    /// Does the network contain `ip` (IPv4-mapped addresses count as IPv4)?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Split an ARN into its six segments; the last is everything after the fifth `:`.
pub fn arn_segments(arn: &str) -> Option<[&str; 6]> {
    let mut colons = [0usize; 5];
    let mut found = 0;
    for (i, b) in arn.bytes().enumerate() {
        if b == b':' {
            if let Some(slot) = colons.get_mut(found) {
                *slot = i;
            }
            found += 1;
            if found == 5 {
                break;
            }
        }
    }
    if found < 5 {
        return None;
    }
    let [c0, c1, c2, c3, c4] = colons;
    Some([
        arn.get(..c0)?,
        arn.get(c0 + 1..c1)?,
        arn.get(c1 + 1..c2)?,
        arn.get(c2 + 1..c3)?,
        arn.get(c3 + 1..c4)?,
        arn.get(c4 + 1..)?,
    ])
}

/// Parse a request value for `Bool` (`true`/`false`, any case).
pub fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(d("10"), d("10.000"));
        assert_eq!(d("1e1"), d("10"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("+5"), d("5"));
        assert!(d("0.1") < d("0.11"));
        assert!(d("9") < d("10"));
        assert!(d("-10") < d("-9"));
        assert!(d("-0.5") < d("0"));
        assert!(d("123456789012345678901234567890") > d("123456789012345678901234567889"));
        assert!(d("0.000000000000000000000000001") > d("0"));
        for bad in [
            "",
            "-",
            ".",
            "1..2",
            "1e",
            "0x10",
            " 1",
            "1 ",
            "1_000",
            "NaN",
            "1e1234567",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        let t = |s| Timestamp::parse(s).unwrap();
        assert_eq!(t("1970-01-01T00:00:00Z"), Timestamp(0));
        assert_eq!(t("2024-01-31T10:00:00Z"), t("1706695200"));
        assert_eq!(t("2024-01-31T12:00:00+02:00"), t("2024-01-31T10:00:00Z"));
        assert_eq!(t("2024-01-31"), t("2024-01-31T00:00:00Z"));
        assert_eq!(t("2024-01-31T10:00Z"), t("2024-01-31T10:00:00Z"));
        assert_eq!(t("1706695200.5").0, t("2024-01-31T10:00:00.5Z").0);
        assert_eq!(
            t("2024-02-29T00:00:00Z").to_iso8601(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1706695200).to_iso8601(),
            "2024-01-31T10:00:00Z"
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T25:00:00Z",
            "yesterday",
            "2024-01-01T00:00:00+2",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = |s| Cidr::parse(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(c("203.0.113.0/24").contains(ip("203.0.113.9")));
        assert!(!c("203.0.113.0/24").contains(ip("203.0.114.9")));
        assert!(c("203.0.113.0/24").contains(ip("::ffff:203.0.113.9")));
        assert!(c("::ffff:203.0.113.0/120").contains(ip("203.0.113.9")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("::/0").contains(ip("8.8.8.8")));
        assert!(c("::/0").contains(ip("2001:db8::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:1::1")));
        assert!(c("10.1.2.3").contains(ip("10.1.2.3")));
        assert!(!c("10.1.2.3").contains(ip("10.1.2.4")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "10.0.0.0/",
            "x",
            "10.0.0.0/+8",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn arns() {
        assert_eq!(
            arn_segments("arn:aws:s3:::b/k:with:colons").unwrap(),
            ["arn", "aws", "s3", "", "", "b/k:with:colons"]
        );
        assert!(arn_segments("arn:aws:s3").is_none());
    }
}
