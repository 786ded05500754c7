//! Java `SimpleDateFormat` patterns, as Connect's timestamp transforms take them
//! (`timestamp.format`, `format`), formatted in UTC with the English names Java's default
//! locale gives: letters `G y Y M L w W D d F E u a H k K h m s S z Z X`, quoted text
//! (`'...'`, `''` for a quote), other characters literally. Weeks follow Java's US rules
//! (weeks start on Sunday; week 1 holds January 1st).

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    /// A pattern letter and how many times it repeats.
    Field(char, usize),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JavaDateFormat {
    pieces: Vec<Piece>,
}

const LETTERS: &str = "GyYMLwWDdFEuaHkKhmsSzZX";
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(crate) const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn pad(value: i64, width: usize) -> String {
    if value < 0 {
        format!("-{:0width$}", -value, width = width)
    } else {
        format!("{value:0width$}")
    }
}

fn short(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

/// Days from Sunday (0) to Saturday (6).
fn from_sunday(day: Weekday) -> i64 {
    i64::from(day.num_days_from_sunday())
}

/// Java's US week of year and its week-based year.
fn us_week(date: NaiveDate) -> (i64, i32) {
    let year = date.year();
    let next_jan1 = NaiveDate::from_ymd_opt(year + 1, 1, 1);
    let days_left = next_jan1.map_or(i64::MAX, |n| (n - date).num_days());
    // The Sunday-to-Saturday week holding the date also holds next January 1st.
    if days_left <= 6 - from_sunday(date.weekday()) {
        return (1, year + 1);
    }
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).map_or(0, |d| from_sunday(d.weekday()));
    let doy = i64::from(date.ordinal());
    ((doy - 1 + jan1) / 7 + 1, year)
}

impl JavaDateFormat {
    /// Parses a pattern, refusing letters Java does not know and unterminated quotes with
    /// Java's messages.
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    text.push('\'');
                    continue;
                }
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            text.push('\'');
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        text.push(q);
                    }
                }
                if !closed {
                    return Err("Unterminated quote".into());
                }
            } else if c.is_ascii_alphabetic() {
                if !LETTERS.contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                pieces.push(Piece::Field(c, count));
            } else {
                text.push(c);
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self { pieces })
    }

    /// The pattern's pieces, in order.
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub(crate) fn format(&self, millis: i64) -> String {
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(millis) else {
            return String::new();
        };
        let date = t.date_naive();
        let mut out = String::new();
        for piece in &self.pieces {
            let (letter, n) = match piece {
                Piece::Text(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Field(letter, n) => (*letter, *n),
            };
            let month = MONTHS[t.month0() as usize];
            let day = DAYS[t.weekday().num_days_from_monday() as usize];
            let hour = i64::from(t.hour());
            let text = match letter {
                'G' => if t.year() > 0 { "AD" } else { "BC" }.to_string(),
                'y' | 'Y' => {
                    let year = if letter == 'Y' {
                        us_week(date).1
                    } else {
                        t.year()
                    };
                    let year = i64::from(year);
                    if n == 2 {
                        pad(year.rem_euclid(100), 2)
                    } else {
                        pad(year, n)
                    }
                }
                'M' | 'L' => match n {
                    1 | 2 => pad(i64::from(t.month()), n),
                    3 => short(month).to_string(),
                    _ => month.to_string(),
                },
                'w' => pad(us_week(date).0, n),
                'W' => {
                    let first = date.with_day(1).map_or(0, |d| from_sunday(d.weekday()));
                    pad((i64::from(t.day()) - 1 + first) / 7 + 1, n)
                }
                'D' => pad(i64::from(t.ordinal()), n),
                'd' => pad(i64::from(t.day()), n),
                'F' => pad((i64::from(t.day()) - 1) / 7 + 1, n),
                'E' => if n >= 4 { day } else { short(day) }.to_string(),
                'u' => pad(i64::from(t.weekday().number_from_monday()), n),
                'a' => if hour < 12 { "AM" } else { "PM" }.to_string(),
                'H' => pad(hour, n),
                'k' => pad(if hour == 0 { 24 } else { hour }, n),
                'K' => pad(hour % 12, n),
                'h' => pad(if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                'm' => pad(i64::from(t.minute()), n),
                's' => pad(i64::from(t.second()), n),
                'S' => pad(i64::from(t.timestamp_subsec_millis()), n),
                'z' => if n >= 4 {
                    "Coordinated Universal Time"
                } else {
                    "UTC"
                }
                .to_string(),
                'Z' => "+0000".to_string(),
                // 'X': ISO 8601 zone, "Z" for UTC at every width.
                _ => "Z".to_string(),
            };
            out.push_str(&text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_milli_opt(h, mi, s, ms))
            .map(|t| t.and_utc().timestamp_millis())
            .expect("a valid date")
    }

    #[test]
    fn patterns_format_as_java_formats_them_in_utc() {
        // 2001-07-04 12:08:56.235 UTC, the instant of Java's SimpleDateFormat examples.
        let t = at(2001, 7, 4, 12, 8, 56, 235);
        let cases = [
            (
                "yyyy.MM.dd G 'at' HH:mm:ss z",
                "2001.07.04 AD at 12:08:56 UTC",
            ),
            ("EEE, MMM d, ''yy", "Wed, Jul 4, '01"),
            ("h:mm a", "12:08 PM"),
            (
                "hh 'o''clock' a, zzzz",
                "12 o'clock PM, Coordinated Universal Time",
            ),
            ("K:mm a, z", "0:08 PM, UTC"),
            ("yyyyy.MMMMM.dd GGG hh:mm aaa", "02001.July.04 AD 12:08 PM"),
            (
                "EEE, d MMM yyyy HH:mm:ss Z",
                "Wed, 4 Jul 2001 12:08:56 +0000",
            ),
            ("yyMMddHHmmssZ", "010704120856+0000"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2001-07-04T12:08:56.235+0000"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2001-07-04T12:08:56.235Z"),
            ("YYYY-'W'ww-u", "2001-W27-3"),
            ("yyyyMMdd", "20010704"),
            ("D F W k", "185 1 1 12"),
        ];
        for (pattern, want) in cases {
            let f = JavaDateFormat::parse(pattern).expect(pattern);
            assert_eq!(f.format(t), want, "{pattern}");
        }
    }

    #[test]
    fn us_weeks_start_on_sunday_and_week_one_holds_january_first() {
        let f = JavaDateFormat::parse("YYYY-ww").expect("valid");
        // Saturday 2016-01-02 is in week 1; Sunday 2016-01-03 starts week 2.
        assert_eq!(f.format(at(2016, 1, 2, 0, 0, 0, 0)), "2016-01");
        assert_eq!(f.format(at(2016, 1, 3, 0, 0, 0, 0)), "2016-02");
        // Wednesday 2014-12-31 is in the week holding 2015-01-01: week 1 of 2015.
        assert_eq!(f.format(at(2014, 12, 31, 0, 0, 0, 0)), "2015-01");
        assert_eq!(f.format(at(2014, 12, 27, 0, 0, 0, 0)), "2014-52");
    }

    #[test]
    fn bad_patterns_get_javas_messages() {
        assert_eq!(
            JavaDateFormat::parse("yyyy-qq"),
            Err("Illegal pattern character 'q'".to_string())
        );
        assert_eq!(
            JavaDateFormat::parse("yyyy 'open"),
            Err("Unterminated quote".to_string())
        );
        let midnight = at(2020, 2, 29, 0, 5, 0, 7);
        let f = JavaDateFormat::parse("k K h H S SSS").expect("valid");
        assert_eq!(f.format(midnight), "24 0 12 0 7 007");
    }
}
