//! Parsing text with a Java `SimpleDateFormat` pattern (see `date_format`), as
//! TimestampConverter does for string input: UTC unless the text carries a zone (`z`, `Z`,
//! `X`), missing fields default to 1970-01-01 00:00:00.000, numeric fields directly
//! followed by another numeric field take exactly their width (`yyyyMMdd`), two-digit
//! years (`yy`) land within 80 years before and 20 after now, names match case-insensitively,
//! and text after the pattern is ignored — Java's `DateFormat.parse(String)` behaviour.
//! Out-of-range values (month 13, hour 25) are refused rather than rolled over.

use chrono::{Datelike, NaiveDate, Utc};

use crate::date_format::{DAYS, JavaDateFormat, MONTHS, Piece};

/// The fields read so far.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i64>,
    two_digit_year: bool,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    millis: i64,
    offset_minutes: i64,
}

fn is_numeric(piece: &Piece) -> bool {
    match piece {
        Piece::Field(letter, n) => match letter {
            'M' | 'L' => *n <= 2,
            c => "yYwWDdFuHkKhmsS".contains(*c),
        },
        Piece::Text(_) => false,
    }
}

/// A cursor over the text.
struct Input<'a> {
    rest: &'a str,
}

impl Input<'_> {
    /// Digits: exactly `width` of them, or as many as there are.
    fn number(&mut self, width: Option<usize>) -> Option<i64> {
        let available = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let take = match width {
            Some(w) if available >= w => w,
            Some(_) => return None,
            None if available > 0 => available.min(18),
            None => return None,
        };
        let (digits, rest) = self.rest.split_at(take);
        self.rest = rest;
        digits.parse().ok()
    }

    /// The index of the first of `names` (full or three-letter) the text starts with.
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let starts = |candidate: &str| {
            self.rest
                .get(..candidate.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(candidate))
        };
        let (index, length) = names.iter().enumerate().find_map(|(i, name)| {
            if starts(name) {
                Some((i, name.len()))
            } else {
                let short = name.get(..3).unwrap_or(name);
                starts(short).then_some((i, short.len()))
            }
        })?;
        self.rest = &self.rest[length..];
        Some(index)
    }

    fn literal(&mut self, text: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(text)?;
        Some(())
    }

    /// A zone: `Z`, `UTC`, `GMT`, Java's long UTC name, or an offset `±HH`, `±HHMM`,
    /// `±HH:MM` (after `GMT`/`UTC` too). Returns minutes east of UTC.
    fn zone(&mut self) -> Option<i64> {
        for name in ["Coordinated Universal Time", "UTC", "GMT", "Z"] {
            if let Some(rest) = self.rest.strip_prefix(name) {
                self.rest = rest;
                if name == "Z" || !self.rest.starts_with(['+', '-']) {
                    return Some(0);
                }
            }
        }
        let sign = match self.rest.chars().next()? {
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        self.rest = &self.rest[1..];
        let hours = self.number(Some(2))?;
        if let Some(rest) = self.rest.strip_prefix(':') {
            self.rest = rest;
        }
        let minutes = self.number(Some(2)).unwrap_or(0);
        (hours < 24 && minutes < 60).then_some(sign * (hours * 60 + minutes))
    }
}

/// Resolves a two-digit year to the century window Java uses: 80 years back, 20 ahead.
fn full_year(two_digits: i64) -> i64 {
    let this_year = i64::from(Utc::now().year());
    let start = this_year - 80;
    let mut year = start - start.rem_euclid(100) + two_digits;
    if year < start {
        year += 100;
    }
    year
}

impl JavaDateFormat {
    /// Milliseconds since the epoch for `text`; `None` when it does not match.
    pub(crate) fn parse_text(&self, text: &str) -> Option<i64> {
        let mut input = Input { rest: text };
        let mut f = Fields::default();
        let pieces = self.pieces();
        for (i, piece) in pieces.iter().enumerate() {
            let (letter, n) = match piece {
                Piece::Text(t) => {
                    input.literal(t)?;
                    continue;
                }
                Piece::Field(letter, n) => (*letter, *n),
            };
            let abutting = pieces.get(i + 1).is_some_and(is_numeric);
            let width = abutting.then_some(n);
            match letter {
                'y' | 'Y' => {
                    let before = input.rest.len();
                    f.year = Some(input.number(width)?);
                    f.two_digit_year = n <= 2 && before - input.rest.len() == 2;
                }
                'M' | 'L' if n <= 2 => f.month = Some(input.number(width)?),
                'M' | 'L' => f.month = Some(input.name(&MONTHS)? as i64 + 1),
                'd' => f.day = Some(input.number(width)?),
                'D' => f.day_of_year = Some(input.number(width)?),
                'H' => f.hour = Some(input.number(width)?),
                'k' => f.hour = Some(input.number(width)? % 24),
                'h' => {
                    let h = input.number(width)?;
                    f.hour12 = (1..=12).contains(&h).then_some(h % 12);
                    f.hour12?;
                }
                'K' => f.hour12 = Some(input.number(width)?),
                'm' => f.minute = input.number(width)?,
                's' => f.second = input.number(width)?,
                'S' => f.millis = input.number(width)?,
                'a' => f.pm = Some(input.name(&["AM", "PM"])? == 1),
                'G' => f.bc = input.name(&["AD", "BC"])? == 1,
                'E' => {
                    input.name(&DAYS)?;
                }
                'z' | 'Z' | 'X' => f.offset_minutes = input.zone()?,
                // Week fields (w, W, F, u) are read and do not change the date, as with
                // Java's default resolution when a day of month is given.
                _ => {
                    input.number(width)?;
                }
            }
        }
        f.millis_since_epoch()
    }
}

impl Fields {
    fn millis_since_epoch(&self) -> Option<i64> {
        let mut year = self.year.unwrap_or(1970);
        if self.two_digit_year {
            year = full_year(year);
        }
        if self.bc {
            year = 1 - year;
        }
        let year = i32::try_from(year).ok()?;
        let date = match (self.day_of_year, self.month, self.day) {
            (Some(doy), None, None) => NaiveDate::from_yo_opt(year, u32::try_from(doy).ok()?)?,
            _ => NaiveDate::from_ymd_opt(
                year,
                u32::try_from(self.month.unwrap_or(1)).ok()?,
                u32::try_from(self.day.unwrap_or(1)).ok()?,
            )?,
        };
        let hour = match (self.hour, self.hour12) {
            (Some(h), _) => h,
            (None, Some(h)) if h < 12 => h + if self.pm == Some(true) { 12 } else { 0 },
            (None, Some(_)) => return None,
            (None, None) => 0,
        };
        if hour > 23 || self.minute > 59 || self.second > 59 || self.millis > 999 {
            return None;
        }
        let time = date.and_hms_milli_opt(
            u32::try_from(hour).ok()?,
            u32::try_from(self.minute).ok()?,
            u32::try_from(self.second).ok()?,
            u32::try_from(self.millis).ok()?,
        )?;
        Some(time.and_utc().timestamp_millis() - self.offset_minutes * 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pattern: &str, text: &str) -> Option<i64> {
        JavaDateFormat::parse(pattern)
            .expect("a valid pattern")
            .parse_text(text)
    }

    const JULY_4_2001: i64 = 994_248_536_235; // 2001-07-04T12:08:56.235Z

    #[test]
    fn what_a_pattern_formats_it_parses_back() {
        for pattern in [
            "yyyy.MM.dd G 'at' HH:mm:ss.SSS z",
            "EEE, d MMM yyyy HH:mm:ss.SSS Z",
            "yyyyMMddHHmmssSSS",
            "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            "hh:mm:ss.SSS a, MMMM dd yyyy",
            "D yyyy HH mm ss SSS",
        ] {
            let f = JavaDateFormat::parse(pattern).expect(pattern);
            let text = f.format(JULY_4_2001);
            assert_eq!(f.parse_text(&text), Some(JULY_4_2001), "{pattern}: {text}");
        }
    }

    #[test]
    fn zones_defaults_and_leniencies_follow_java() {
        let day = 86_400_000;
        assert_eq!(parse("yyyy-MM-dd", "1970-01-02"), Some(day));
        assert_eq!(parse("yyyy-MM-dd", "1970-01-02 and more"), Some(day));
        assert_eq!(parse("HH:mm", "01:30"), Some(5_400_000));
        assert_eq!(
            parse("yyyy-MM-dd HH:mmZ", "1970-01-02 01:00+0100"),
            Some(day)
        );
        assert_eq!(parse("yyyy-MM-dd HH:mmX", "1970-01-01 23:00-01"), Some(day));
        assert_eq!(parse("yyyy-MM-dd HH:mmXXX", "1970-01-02 00:00Z"), Some(day));
        assert_eq!(
            parse("yyyy-MM-dd HH:mm z", "1970-01-02 00:00 GMT"),
            Some(day)
        );
        assert_eq!(parse("dd MMM yyyy", "02 jan 1970"), Some(day));
        assert_eq!(parse("yyyy-M-d", "1970-1-2"), Some(day));
        let this_year = i64::from(Utc::now().year());
        let got = parse("yy", "05").expect("two digits");
        let year = chrono::DateTime::from_timestamp_millis(got).map(|t| i64::from(t.year()));
        assert!(
            year.is_some_and(|y| y % 100 == 5 && (this_year - 80..this_year + 20).contains(&y))
        );
    }

    #[test]
    fn text_that_does_not_match_is_refused() {
        for (pattern, text) in [
            ("yyyy-MM-dd", "2001/07/04"),
            ("yyyy-MM-dd", "2001-13-04"),
            ("yyyy-MM-dd", "2001-02-30"),
            ("HH:mm", "25:00"),
            ("yyyyMMdd", "200107"),
            ("MMM", "Jux"),
            ("yyyy", ""),
            ("hh a", "13 PM"),
        ] {
            assert_eq!(parse(pattern, text), None, "{pattern} / {text}");
        }
    }
}
