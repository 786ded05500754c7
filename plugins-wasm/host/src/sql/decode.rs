//! Rows to WIT values, per database: each column is read by its database type into the
//! closest `sql.value` case. Types without a faithful conversion are refused with the column
//! named, so a plugin never receives silently mangled data.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::{PgRow, PgTypeKind};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, ColumnIndex, Database, Row, TypeInfo, ValueRef};

use crate::bindings::culvert::connector::sql::Value;

/// Why one value could not be converted.
type Failed = String;

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

pub(crate) fn date(d: NaiveDate) -> Value {
    Value::Date((d - EPOCH).num_days() as i32)
}

pub(crate) fn time(t: NaiveTime) -> Value {
    Value::Time(
        i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000),
    )
}

pub(crate) fn timestamp(t: NaiveDateTime) -> Value {
    Value::Timestamp(t.and_utc().timestamp_micros())
}

/// Approximate bytes a value occupies when handed to the plugin.
pub(crate) fn size(v: &Value) -> usize {
    match v {
        Value::Text(s) | Value::Decimal(s) => s.len() + 8,
        Value::Bytes(b) => b.len() + 8,
        _ => 16,
    }
}

fn unsupported(name: &str, ty: &str) -> Failed {
    format!(
        "column {name:?} has type {ty}, which the sql capability cannot convert; cast it in the query (e.g. to text)"
    )
}

fn failed(name: &str, ty: &str, e: sqlx::Error) -> Failed {
    format!("column {name:?} ({ty}): {e}")
}

/// The type of the value in column `i` (which, for SQLite, can differ row by row), or
/// `None` for NULL.
fn value_type<R: Row>(
    row: &R,
    i: usize,
) -> Result<Option<<R::Database as Database>::TypeInfo>, Failed>
where
    usize: ColumnIndex<R>,
{
    let raw = row
        .try_get_raw(i)
        .map_err(|e| failed(row.columns()[i].name(), "?", e))?;
    Ok((!raw.is_null()).then(|| raw.type_info().into_owned()))
}

/// How a PostgreSQL column is read: decided once per result set from the column's type
/// (a PostgreSQL column has one type for every row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Char,
    Uuid,
    Json,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Unsupported,
}

/// The reader for a column of type `info`.
pub(crate) fn pg_kind(info: &sqlx::postgres::PgTypeInfo) -> PgKind {
    match info.name() {
        "BOOL" => PgKind::Bool,
        "INT2" => PgKind::Int2,
        "INT4" => PgKind::Int4,
        "INT8" => PgKind::Int8,
        "OID" => PgKind::Oid,
        "FLOAT4" => PgKind::Float4,
        "FLOAT8" => PgKind::Float8,
        "NUMERIC" => PgKind::Numeric,
        "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT" | "XML" => PgKind::Text,
        "\"CHAR\"" => PgKind::Char,
        "UUID" => PgKind::Uuid,
        "JSON" | "JSONB" => PgKind::Json,
        "BYTEA" => PgKind::Bytea,
        "DATE" => PgKind::Date,
        "TIME" => PgKind::Time,
        "TIMESTAMP" => PgKind::Timestamp,
        "TIMESTAMPTZ" => PgKind::TimestampTz,
        _ if matches!(info.kind(), PgTypeKind::Enum(_)) => PgKind::Text,
        _ => PgKind::Unsupported,
    }
}

/// Reads column `i` of a PostgreSQL row with the reader chosen for its column (decoding
/// the raw value once; `try_get` would look the column up again).
pub(crate) fn pg(row: &PgRow, i: usize, kind: PgKind) -> Result<Value, Failed> {
    type Pg = sqlx::Postgres;
    let raw = row
        .try_get_raw(i)
        .map_err(|e| failed(row.columns()[i].name(), "?", e))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let err = |e: sqlx::error::BoxDynError| {
        let column = &row.columns()[i];
        failed(
            column.name(),
            column.type_info().name(),
            sqlx::Error::Decode(e),
        )
    };
    Ok(match kind {
        PgKind::Bool => Value::Boolean(<bool as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Int2 => Value::Int(<i16 as sqlx::Decode<Pg>>::decode(raw).map_err(err)?.into()),
        PgKind::Int4 => Value::Int(<i32 as sqlx::Decode<Pg>>::decode(raw).map_err(err)?.into()),
        PgKind::Int8 => Value::Int(<i64 as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Oid => Value::Int(
            <sqlx::postgres::types::Oid as sqlx::Decode<Pg>>::decode(raw)
                .map_err(err)?
                .0
                .into(),
        ),
        PgKind::Float4 => {
            Value::Double(<f32 as sqlx::Decode<Pg>>::decode(raw).map_err(err)?.into())
        }
        PgKind::Float8 => Value::Double(<f64 as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Numeric => {
            let column = || {
                let c = &row.columns()[i];
                format!("column {:?} ({})", c.name(), c.type_info().name())
            };
            let bytes = raw.as_bytes().map_err(|e| format!("{}: {e}", column()))?;
            pg_numeric(bytes).map_err(|e| format!("{}: {e}", column()))?
        }
        PgKind::Text => Value::Text(<String as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Char => Value::Text(
            char::from(<i8 as sqlx::Decode<Pg>>::decode(raw).map_err(err)? as u8).to_string(),
        ),
        PgKind::Uuid => Value::Text(
            <uuid::Uuid as sqlx::Decode<Pg>>::decode(raw)
                .map_err(err)?
                .to_string(),
        ),
        PgKind::Json => Value::Text(
            <serde_json::Value as sqlx::Decode<Pg>>::decode(raw)
                .map_err(err)?
                .to_string(),
        ),
        PgKind::Bytea => Value::Bytes(<Vec<u8> as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Date => date(<NaiveDate as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Time => time(<NaiveTime as sqlx::Decode<Pg>>::decode(raw).map_err(err)?),
        PgKind::Timestamp => {
            timestamp(<NaiveDateTime as sqlx::Decode<Pg>>::decode(raw).map_err(err)?)
        }
        PgKind::TimestampTz => Value::Timestamp(
            <DateTime<Utc> as sqlx::Decode<Pg>>::decode(raw)
                .map_err(err)?
                .timestamp_micros(),
        ),
        PgKind::Unsupported => {
            let column = &row.columns()[i];
            return Err(unsupported(column.name(), column.type_info().name()));
        }
    })
}

/// PostgreSQL's binary `numeric` (digit count, weight, sign, display scale, then base-10000
/// digits) as exact decimal text with the value's own scale; NaN and infinities become
/// doubles.
fn pg_numeric(bytes: &[u8]) -> Result<Value, String> {
    let word = |i: usize| {
        bytes
            .get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric value".to_string())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok(Value::Double(f64::NAN)),
        0xD000 => return Ok(Value::Double(f64::INFINITY)),
        0xF000 => return Ok(Value::Double(f64::NEG_INFINITY)),
        other => return Err(format!("unknown numeric sign {other:#x}")),
    }
    let digits = (0..ndigits)
        .map(|k| word(4 + k))
        .collect::<Result<Vec<u16>, _>>()?;
    // Base-10000 digit k has weight `weight - k`; the integer part has `weight + 1` digits.
    let digit = |w: i32| -> u16 {
        usize::try_from(weight - w)
            .ok()
            .and_then(|k| digits.get(k).copied())
            .unwrap_or(0)
    };
    let int_digits = usize::try_from(weight + 1).unwrap_or(1).max(1) * 4;
    let mut text = String::with_capacity(1 + int_digits + 1 + dscale + 4);
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for w in (0..=weight).rev() {
            let four = four_digits(digit(w));
            if w == weight {
                // The leading group without its leading zeros.
                let first = four.iter().position(|d| *d != b'0').unwrap_or(3);
                push_ascii(&mut text, &four[first..]);
            } else {
                push_ascii(&mut text, &four);
            }
        }
    }
    if dscale > 0 {
        text.push('.');
        let mut left = dscale;
        let mut w = -1;
        while left > 0 {
            let four = four_digits(digit(w));
            let take = left.min(4);
            push_ascii(&mut text, &four[..take]);
            left -= take;
            w -= 1;
        }
    }
    Ok(Value::Decimal(text))
}

/// A base-10000 digit as four ASCII decimal digits.
fn four_digits(d: u16) -> [u8; 4] {
    let d = d % 10_000;
    [
        b'0' + (d / 1000) as u8,
        b'0' + (d / 100 % 10) as u8,
        b'0' + (d / 10 % 10) as u8,
        b'0' + (d % 10) as u8,
    ]
}

fn push_ascii(text: &mut String, digits: &[u8]) {
    text.extend(digits.iter().map(|d| char::from(*d)));
}

/// Reads column `i` of a MySQL/MariaDB row.
pub(crate) fn mysql(row: &MySqlRow, i: usize) -> Result<Value, Failed> {
    let name = row.columns()[i].name();
    let Some(info) = value_type(row, i)? else {
        return Ok(Value::Null);
    };
    let ty = info.name();
    let err = |e| failed(name, ty, e);
    Ok(match ty {
        // TINYINT(1): MySQL's boolean, read like Connector/J's tinyInt1isBit (non-zero is true).
        "BOOLEAN" => Value::Boolean(row.try_get_unchecked::<i64, _>(i).map_err(err)? != 0),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            Value::Int(row.try_get_unchecked(i).map_err(err)?)
        }
        _ if ty.ends_with(" UNSIGNED") => {
            let v: u64 = row.try_get_unchecked(i).map_err(err)?;
            match i64::try_from(v) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::Decimal(v.to_string()),
            }
        }
        "FLOAT" => Value::Double(row.try_get_unchecked::<f32, _>(i).map_err(err)?.into()),
        "DOUBLE" => Value::Double(row.try_get_unchecked(i).map_err(err)?),
        "DECIMAL" => Value::Decimal(
            row.try_get_unchecked::<&str, _>(i)
                .map_err(err)?
                .to_string(),
        ),
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "JSON" => Value::Text(row.try_get_unchecked(i).map_err(err)?),
        // The protocol flags binary-collated text (`utf8mb4_bin`, MariaDB's JSON) as binary
        // too, and sqlx does not expose the collation: such columns arrive as bytes.
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" => {
            Value::Bytes(row.try_get_unchecked(i).map_err(err)?)
        }
        "DATE" => date(row.try_get_unchecked(i).map_err(err)?),
        "TIME" => time(row.try_get_unchecked(i).map_err(err)?),
        "DATETIME" | "TIMESTAMP" => timestamp(row.try_get_unchecked(i).map_err(err)?),
        _ => return Err(unsupported(name, ty)),
    })
}

/// Reads column `i` of a SQLite row: by the value's storage class, except that columns
/// declared BOOLEAN, DATE, TIME, DATETIME or TIMESTAMP become those types when their value
/// parses as one.
pub(crate) fn sqlite(row: &SqliteRow, i: usize) -> Result<Value, Failed> {
    let column = &row.columns()[i];
    let name = column.name();
    let declared = column.type_info().name().to_ascii_uppercase();
    let Some(storage) = value_type(row, i)? else {
        return Ok(Value::Null);
    };
    let storage = storage.name();
    let err = |e| failed(name, storage, e);
    let typed = match declared.as_str() {
        "BOOLEAN" if storage == "INTEGER" => {
            row.try_get_unchecked::<bool, _>(i).ok().map(Value::Boolean)
        }
        "DATE" => row.try_get_unchecked(i).ok().map(date),
        "TIME" => row.try_get_unchecked(i).ok().map(time),
        "DATETIME" | "TIMESTAMP" => row.try_get_unchecked(i).ok().map(timestamp),
        _ => None,
    };
    if let Some(v) = typed {
        return Ok(v);
    }
    Ok(match storage {
        "INTEGER" | "BOOLEAN" => Value::Int(row.try_get_unchecked(i).map_err(err)?),
        "REAL" => Value::Double(row.try_get_unchecked(i).map_err(err)?),
        "BLOB" => Value::Bytes(row.try_get_unchecked(i).map_err(err)?),
        _ => Value::Text(row.try_get_unchecked(i).map_err(err)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(words: &[u16]) -> String {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        match pg_numeric(&bytes) {
            Ok(Value::Decimal(s)) => s,
            other => panic!("not a decimal: {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn pg_numerics_keep_their_scale() {
        // 12345678901234567890.0123456789: weight 4, digits 1234 5678 9012 3456 7890 . 0123 4567 89(00)
        assert_eq!(
            numeric(&[8, 4, 0, 10, 1234, 5678, 9012, 3456, 7890, 123, 4567, 8900]),
            "12345678901234567890.0123456789"
        );
        assert_eq!(numeric(&[1, 0, 0x4000, 2, 7]), "-7.00");
        assert_eq!(numeric(&[0, 0, 0, 0]), "0");
        assert_eq!(numeric(&[1, 0xFFFF, 0, 5, 50]), "0.00500");
        assert_eq!(numeric(&[1, 2, 0, 0, 1]), "100000000");
        assert!(pg_numeric(&[0, 1]).is_err());
        assert!(
            matches!(pg_numeric(&[0, 0, 0, 0, 0xC0, 0, 0, 0]), Ok(Value::Double(f)) if f.is_nan())
        );
    }

    #[test]
    fn dates_times_and_timestamps_count_from_the_epoch() {
        let d = NaiveDate::from_ymd_opt(1969, 12, 31).expect("date");
        assert!(matches!(date(d), Value::Date(-1)));
        let t = NaiveTime::from_hms_micro_opt(1, 0, 2, 5).expect("time");
        assert!(matches!(time(t), Value::Time(3_602_000_005)));
        let ts = NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_micro_opt(12, 0, 0, 1))
            .expect("ts");
        assert!(matches!(
            timestamp(ts),
            Value::Timestamp(1_709_208_000_000_001)
        ));
    }
}
