//! How long a provider asks us to wait, read from a 429/503 response's headers.
//!
//! Forms read (the longest present wins):
//! - `Retry-After`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3; IMF-fixdate only,
//!   the obsolete RFC 850 and asctime forms are not sent by any provider we know);
//! - `retry-after-ms`: milliseconds, possibly fractional (OpenAI, Azure);
//! - `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens`: OpenAI's Go-style
//!   durations (`"1s"`, `"6m0s"`, `"20ms"`, `"1h2m3.5s"`);
//! - `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`: RFC 3339
//!   timestamps.
//!
//! Pure functions of the head and the wall clock the caller passes in; never panic on
//! what a provider sent (a value that does not parse is ignored).

use std::time::Duration;

use tollgate_proto::h1::ResponseHead;

/// The cool-down a response asks for: the longest of the forms above that parse. A date
/// in the past counts as zero. `now_unix_ms` is the wall clock, for the date forms.
/// `None` when none parse. The caller decides which statuses this applies to.
pub fn cooldown_from_headers(head: &ResponseHead, now_unix_ms: u64) -> Option<Duration> {
    let mut longest: Option<Duration> = None;
    let mut take = |d: Option<Duration>| {
        if let Some(d) = d {
            longest = Some(longest.map_or(d, |l| l.max(d)));
        }
    };
    for h in &head.headers {
        let name = head.name(h);
        let value = trim(head.value(h));
        if name.eq_ignore_ascii_case(b"retry-after") {
            take(retry_after(value, now_unix_ms));
        } else if name.eq_ignore_ascii_case(b"retry-after-ms") {
            take(decimal(value).map(|ms| ms / 1000));
        } else if name.eq_ignore_ascii_case(b"x-ratelimit-reset-requests")
            || name.eq_ignore_ascii_case(b"x-ratelimit-reset-tokens")
        {
            take(go_duration(value));
        } else if is_anthropic_reset(name) {
            take(rfc3339_unix_ms(value).map(|t| until(t, now_unix_ms)));
        }
    }
    longest
}

fn is_anthropic_reset(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 4] = [
        b"anthropic-ratelimit-requests-reset",
        b"anthropic-ratelimit-tokens-reset",
        b"anthropic-ratelimit-input-tokens-reset",
        b"anthropic-ratelimit-output-tokens-reset",
    ];
    NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end]
}

fn until(t_ms: u64, now_ms: u64) -> Duration {
    Duration::from_millis(t_ms.saturating_sub(now_ms))
}

/// `Retry-After`: delta-seconds or IMF-fixdate.
fn retry_after(v: &[u8], now_ms: u64) -> Option<Duration> {
    if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        return Some(Duration::from_secs(digits(v)?));
    }
    imf_fixdate_unix_ms(v).map(|t| until(t, now_ms))
}

/// A whole number; `None` if empty, not all digits, or over `u64`.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `123` or `123.45` as that many seconds (the caller scales other units).
fn decimal(v: &[u8]) -> Option<Duration> {
    let (int, frac) = split_fraction(v)?;
    Duration::from_secs(digits(int)?).checked_add(fraction(frac)?)
}

fn split_fraction(v: &[u8]) -> Option<(&[u8], &[u8])> {
    match v.iter().position(|&b| b == b'.') {
        Some(i) => Some((&v[..i], &v[i + 1..])),
        None => Some((v, &b""[..])),
    }
}

/// `.5` -> 0.5 s (digits after the point, as a fraction of a second; up to nanoseconds).
fn fraction(frac: &[u8]) -> Option<Duration> {
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nanos = 0u32;
    for (i, &b) in frac.iter().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::from_nanos(u64::from(nanos)))
}

/// Go's `time.Duration` text: one or more `<number><unit>`, unit `h`, `m`, `s`, `ms`,
/// `us`/`µs`, `ns`; the number may have a fraction.
fn go_duration(v: &[u8]) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    if v == b"0" {
        return Some(Duration::ZERO);
    }
    let mut rest = v;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let num_len = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .iter()
            .position(|b| b.is_ascii_digit() || *b == b'.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let (int, frac) = split_fraction(num)?;
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let whole = if int.is_empty() { 0 } else { digits(int)? };
        let secs = Duration::from_secs(whole).checked_add(fraction(frac)?)?;
        let part = match unit {
            b"h" => secs.checked_mul(3600)?,
            b"m" => secs.checked_mul(60)?,
            b"s" => secs,
            b"ms" => secs / 1000,
            b"us" | b"\xc2\xb5s" => secs / 1_000_000,
            b"ns" => secs / 1_000_000_000,
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = next;
    }
    Some(total)
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix_ms(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u64) -> Option<u64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    u64::try_from(secs).ok()?.checked_mul(1000)?.checked_add(ms)
}

fn num(v: &[u8]) -> Option<u32> {
    digits(v).and_then(|n| u32::try_from(n).ok())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
fn imf_fixdate_unix_ms(v: &[u8]) -> Option<u64> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
        return None;
    }
    let day = num(&v[5..7])?;
    let month = MONTHS.iter().position(|m| *m == &v[8..11])? as u32 + 1;
    let year = num(&v[12..16])?;
    if v[7] != b' ' || v[11] != b' ' || v[16] != b' ' || v[19] != b':' || v[22] != b':' {
        return None;
    }
    let (h, mi, s) = (num(&v[17..19])?, num(&v[20..22])?, num(&v[23..25])?);
    unix_ms(i64::from(year), month, day, h, mi, s, 0)
}

/// `2024-05-01T12:00:30Z`, `2024-05-01T12:00:30.5+02:00` (RFC 3339 §5.6).
fn rfc3339_unix_ms(v: &[u8]) -> Option<u64> {
    if v.len() < 20 || v[4] != b'-' || v[7] != b'-' || v[13] != b':' || v[16] != b':' {
        return None;
    }
    if !matches!(v[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = num(&v[0..4])?;
    let (mo, d) = (num(&v[5..7])?, num(&v[8..10])?);
    let (h, mi, s) = (num(&v[11..13])?, num(&v[14..16])?, num(&v[17..19])?);
    let mut rest = &v[19..];
    let mut ms = 0u64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        ms = fraction(&rest[1..1 + n])?.as_millis() as u64;
        rest = &rest[1 + n..];
    }
    let offset_min: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let oh = i64::from(num(&[*oh1, *oh2])?);
            let om = i64::from(num(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let local = unix_ms(i64::from(year), mo, d, h, mi, s, ms)?;
    let utc = i64::try_from(local).ok()? - offset_min * 60_000;
    u64::try_from(utc).ok()
}

#[cfg(test)]
#[path = "tests/cooldown.rs"]
mod tests;
