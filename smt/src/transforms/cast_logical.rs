//! Cast's handling of Connect's logical types, as Kafka's Cast does it. `Date`, `Time` and
//! `Timestamp` cast to numbers as their internal values (days since the epoch, milliseconds
//! since midnight, milliseconds since the epoch — what JsonConverter writes) and to text in
//! ISO 8601, the pattern chosen by the instant as Connect's `Values.dateFormatFor` chooses
//! it: `HH:mm:ss.SSS'Z'` before the end of 1970-01-01, `yyyy-MM-dd` at a UTC midnight,
//! `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` otherwise. `Decimal` (JsonConverter's base64 unscaled bytes
//! with the schema's `scale`, or a plain number) casts to integers truncated toward zero, to
//! floats by value, and to text as Java's `BigDecimal.toString` prints it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::SmtError;
use crate::date_format::JavaDateFormat;

const DAY_MS: i64 = 86_400_000;
const PACKAGE: &str = "org.apache.kafka.connect.data.";

/// A logical type Cast knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logical {
    Date,
    Time,
    Timestamp,
    Decimal { scale: i32 },
}

/// The logical type a schema names, if any.
pub(crate) fn logical_of(schema: &Value) -> Option<Logical> {
    let name = schema.get("name")?.as_str()?.strip_prefix(PACKAGE)?;
    Some(match name {
        "Date" => Logical::Date,
        "Time" => Logical::Time,
        "Timestamp" => Logical::Timestamp,
        "Decimal" => {
            let scale = schema
                .get("parameters")
                .and_then(|p| p.get("scale"))
                .and_then(|s| match s {
                    Value::String(text) => text.parse().ok(),
                    other => other.as_i64().and_then(|n| i32::try_from(n).ok()),
                })
                .unwrap_or(0);
            Logical::Decimal { scale }
        }
        _ => return None,
    })
}

/// A decimal: `unscaled × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    unscaled: i128,
    scale: i32,
}

impl Decimal {
    /// Reads JsonConverter's forms: base64 of the unscaled two's-complement big-endian bytes
    /// (`decimal.format=BASE64`, the default), or a number (`NUMERIC`).
    pub(crate) fn read(value: &Value, scale: i32) -> Result<Self, SmtError> {
        match value {
            Value::String(text) => {
                let bytes = B64.decode(text).map_err(|e| {
                    SmtError::Data(format!("a Decimal value is not base64 ({text}): {e}"))
                })?;
                if bytes.is_empty() || bytes.len() > 16 {
                    return Err(SmtError::Data(format!(
                        "a Decimal of {} bytes cannot be cast (at most 16)",
                        bytes.len()
                    )));
                }
                let negative = bytes[0] & 0x80 != 0;
                let mut full = [if negative { 0xff } else { 0 }; 16];
                full[16 - bytes.len()..].copy_from_slice(&bytes);
                Ok(Self {
                    unscaled: i128::from_be_bytes(full),
                    scale,
                })
            }
            Value::Number(n) => {
                let text = n.to_string();
                let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
                let digits = format!("{int}{frac}");
                let unscaled = digits.parse::<i128>().map_err(|_| {
                    SmtError::Data(format!("the Decimal number {text} cannot be cast"))
                })?;
                Ok(Self {
                    unscaled,
                    scale: i32::try_from(frac.len()).unwrap_or(0),
                })
            }
            other => Err(SmtError::Data(format!(
                "a Decimal value must be base64 text or a number, found {other}"
            ))),
        }
    }

    /// The integer part (toward zero), wrapped to 64 bits as Java's `longValue` does.
    pub(crate) fn long_value(self) -> i64 {
        let mut v = self.unscaled;
        if self.scale >= 0 {
            for _ in 0..self.scale {
                v /= 10;
                if v == 0 {
                    break;
                }
            }
        } else {
            for _ in 0..-self.scale {
                v = v.wrapping_mul(10);
            }
        }
        v as i64
    }

    pub(crate) fn double_value(self) -> f64 {
        let text = self.java_string();
        text.parse::<f64>().unwrap_or(self.unscaled as f64)
    }

    /// Java's `BigDecimal.toString`: plain digits unless the scale is negative or the
    /// adjusted exponent is below -6, then `d.dddE±n`.
    pub(crate) fn java_string(self) -> String {
        let negative = self.unscaled < 0;
        let digits = self.unscaled.unsigned_abs().to_string();
        let len = i64::try_from(digits.len()).unwrap_or(0);
        let scale = i64::from(self.scale);
        let adjusted = len - 1 - scale;
        let body = if scale >= 0 && adjusted >= -6 {
            let scale = usize::try_from(scale).unwrap_or(0);
            if scale == 0 {
                digits
            } else if digits.len() > scale {
                let (int, frac) = digits.split_at(digits.len() - scale);
                format!("{int}.{frac}")
            } else {
                format!("0.{}{digits}", "0".repeat(scale - digits.len()))
            }
        } else {
            let (first, rest) = digits.split_at(1);
            let mantissa = if rest.is_empty() {
                first.to_string()
            } else {
                format!("{first}.{rest}")
            };
            let sign = if adjusted >= 0 { "+" } else { "" };
            format!("{mantissa}E{sign}{adjusted}")
        };
        if negative { format!("-{body}") } else { body }
    }
}

/// The instant (epoch milliseconds) of a Date/Time/Timestamp value.
pub(crate) fn instant_ms(kind: Logical, value: &Value) -> Result<i64, SmtError> {
    let n = value.as_i64().ok_or_else(|| {
        SmtError::Data(format!(
            "a {kind:?} value must be an integer, found {value}"
        ))
    })?;
    Ok(match kind {
        Logical::Date => n.saturating_mul(DAY_MS),
        _ => n,
    })
}

/// Connect's ISO 8601 text for an instant.
pub(crate) fn iso_text(ms: i64) -> String {
    let pattern = if ms < DAY_MS {
        "HH:mm:ss.SSS'Z'"
    } else if ms % DAY_MS == 0 {
        "yyyy-MM-dd"
    } else {
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    };
    JavaDateFormat::parse(pattern).map_or_else(|_| ms.to_string(), |f| f.format(ms))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decimal(unscaled: i128, scale: i32) -> Decimal {
        Decimal { unscaled, scale }
    }

    #[test]
    fn decimals_print_as_java_prints_them() {
        for (unscaled, scale, text) in [
            (1250, 2, "12.50"),
            (-5, 3, "-0.005"),
            (123, 0, "123"),
            (1, -3, "1E+3"),
            (12, 9, "1.2E-8"),
            (1, 7, "1E-7"),
            (1, 6, "0.000001"),
        ] {
            assert_eq!(decimal(unscaled, scale).java_string(), text);
        }
        assert_eq!(decimal(-1299, 2).long_value(), -12);
        assert!((decimal(1250, 2).double_value() - 12.5).abs() < 1e-12);
    }

    #[test]
    fn json_converter_forms_are_read() {
        // 12.50 at scale 2: unscaled 1250 = 0x04E2.
        assert_eq!(
            Decimal::read(&json!("BOI="), 2).expect("base64"),
            decimal(1250, 2)
        );
        // -1 as one byte 0xFF.
        assert_eq!(
            Decimal::read(&json!("/w=="), 0).expect("base64"),
            decimal(-1, 0)
        );
        assert_eq!(
            Decimal::read(&json!(12.5), 0).expect("number"),
            decimal(125, 1)
        );
        assert!(Decimal::read(&json!("not base64!"), 0).is_err());
        assert!(Decimal::read(&json!(true), 0).is_err());
    }

    #[test]
    fn instants_use_connects_iso_patterns() {
        assert_eq!(iso_text(3_723_004), "01:02:03.004Z");
        assert_eq!(iso_text(17_427 * DAY_MS), "2017-09-18");
        assert_eq!(iso_text(1_505_747_117_123), "2017-09-18T15:05:17.123Z");
        assert_eq!(
            instant_ms(Logical::Date, &json!(2)).expect("days"),
            2 * DAY_MS
        );
        let schema = json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2"}});
        assert_eq!(logical_of(&schema), Some(Logical::Decimal { scale: 2 }));
    }
}
