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

/// Reads column `i` of a PostgreSQL row.
pub(crate) fn pg(row: &PgRow, i: usize) -> Result<Value, Failed> {
    let name = row.columns()[i].name();
    let Some(info) = value_type(row, i)? else {
        return Ok(Value::Null);
    };
    let ty = info.name();
    let err = |e| failed(name, ty, e);
    Ok(match ty {
        "BOOL" => Value::Boolean(row.try_get_unchecked(i).map_err(err)?),
        "INT2" => Value::Int(row.try_get_unchecked::<i16, _>(i).map_err(err)?.into()),
        "INT4" => Value::Int(row.try_get_unchecked::<i32, _>(i).map_err(err)?.into()),
        "INT8" => Value::Int(row.try_get_unchecked(i).map_err(err)?),
        "OID" => Value::Int(
            row.try_get_unchecked::<sqlx::postgres::types::Oid, _>(i)
                .map_err(err)?
                .0
                .into(),
        ),
        "FLOAT4" => Value::Double(row.try_get_unchecked::<f32, _>(i).map_err(err)?.into()),
        "FLOAT8" => Value::Double(row.try_get_unchecked(i).map_err(err)?),
        "NUMERIC" => {
            let raw = row.try_get_raw(i).map_err(err)?;
            let bytes = raw
                .as_bytes()
                .map_err(|e| format!("column {name:?} ({ty}): {e}"))?;
            pg_numeric(bytes).map_err(|e| format!("column {name:?} ({ty}): {e}"))?
        }
        "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT" | "XML" => {
            Value::Text(row.try_get_unchecked(i).map_err(err)?)
        }
        "\"CHAR\"" => Value::Text(
            char::from(row.try_get_unchecked::<i8, _>(i).map_err(err)? as u8).to_string(),
        ),
        "UUID" => Value::Text(
            row.try_get_unchecked::<uuid::Uuid, _>(i)
                .map_err(err)?
                .to_string(),
        ),
        "JSON" | "JSONB" => Value::Text(
            row.try_get_unchecked::<serde_json::Value, _>(i)
                .map_err(err)?
                .to_string(),
        ),
        "BYTEA" => Value::Bytes(row.try_get_unchecked(i).map_err(err)?),
        "DATE" => date(row.try_get_unchecked(i).map_err(err)?),
        "TIME" => time(row.try_get_unchecked(i).map_err(err)?),
        "TIMESTAMP" => timestamp(row.try_get_unchecked(i).map_err(err)?),
        "TIMESTAMPTZ" => Value::Timestamp(
            row.try_get_unchecked::<DateTime<Utc>, _>(i)
                .map_err(err)?
                .timestamp_micros(),
        ),
        _ if matches!(info.kind(), PgTypeKind::Enum(_)) => {
            Value::Text(row.try_get_unchecked(i).map_err(err)?)
        }
        _ => return Err(unsupported(name, ty)),
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
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for w in (0..=weight).rev() {
            let d = digit(w);
            if w == weight {
                text.push_str(&d.to_string());
            } else {
                text.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut w = -1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(w)));
            w -= 1;
        }
        frac.truncate(dscale);
        text.push('.');
        text.push_str(&frac);
    }
    Ok(Value::Decimal(text))
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
