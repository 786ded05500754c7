//! WIT values to statement parameters, per database.
//!
//! PostgreSQL types every parameter when a statement is prepared, so each value binds as
//! its natural type (int8, float8, numeric, text, bytea, date, time, timestamptz) and a null
//! binds untyped, letting the server infer the type from the statement. A text value bound
//! to a non-text column needs a cast in the SQL (`$1::uuid`). MySQL and SQLite convert
//! parameters themselves.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::mysql::MySqlArguments;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgTypeInfo, Postgres};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, Type};

use crate::bindings::culvert::connector::sql::Value;

/// A null whose type the server infers (PostgreSQL's "unspecified" parameter type).
struct UntypedNull;

impl Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

/// Why a parameter could not be bound (names its position).
type Failed = String;

fn decimal(i: usize, s: &str) -> Result<BigDecimal, Failed> {
    BigDecimal::from_str(s.trim())
        .map_err(|e| format!("parameter {}: {s:?} is not a decimal: {e}", i + 1))
}

fn day(i: usize, days: i32) -> Result<NaiveDate, Failed> {
    const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    EPOCH
        .checked_add_signed(Duration::days(days.into()))
        .ok_or_else(|| format!("parameter {}: date {days} is out of range", i + 1))
}

fn time_of_day(i: usize, micros: i64) -> Result<NaiveTime, Failed> {
    let secs = u32::try_from(micros.div_euclid(1_000_000))
        .ok()
        .filter(|s| *s < 86_400);
    secs.and_then(|s| {
        NaiveTime::from_num_seconds_from_midnight_opt(
            s,
            (micros.rem_euclid(1_000_000) * 1000) as u32,
        )
    })
    .ok_or_else(|| {
        format!(
            "parameter {}: time {micros} is not within a day (microseconds)",
            i + 1
        )
    })
}

fn instant(i: usize, micros: i64) -> Result<DateTime<Utc>, Failed> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| format!("parameter {}: timestamp {micros} is out of range", i + 1))
}

fn naive(i: usize, micros: i64) -> Result<NaiveDateTime, Failed> {
    instant(i, micros).map(|t| t.naive_utc())
}

/// A short code per parameter type, so PostgreSQL statements prepared with different
/// parameter types are cached separately.
pub(crate) fn pg_signature(params: &[Value]) -> String {
    params
        .iter()
        .map(|v| match v {
            Value::Null => 'n',
            Value::Boolean(_) => 'b',
            Value::Int(_) => 'i',
            Value::Double(_) => 'f',
            Value::Decimal(_) => 'm',
            Value::Text(_) => 't',
            Value::Bytes(_) => 'y',
            Value::Date(_) => 'd',
            Value::Time(_) => 'c',
            Value::Timestamp(_) => 's',
        })
        .collect()
}

/// PostgreSQL arguments and their declared types.
pub(crate) fn pg(params: Vec<Value>) -> Result<(PgArguments, Vec<PgTypeInfo>), Failed> {
    let mut args = PgArguments::default();
    let mut types = Vec::with_capacity(params.len());
    for (i, v) in params.into_iter().enumerate() {
        macro_rules! add {
            ($t:ty, $v:expr) => {{
                types.push(<$t as Type<Postgres>>::type_info());
                args.add::<$t>($v)
            }};
        }
        let added = match v {
            Value::Null => add!(UntypedNull, UntypedNull),
            Value::Boolean(b) => add!(bool, b),
            Value::Int(n) => add!(i64, n),
            Value::Double(f) => add!(f64, f),
            Value::Decimal(s) => add!(BigDecimal, decimal(i, &s)?),
            Value::Text(s) => add!(String, s),
            Value::Bytes(b) => add!(Vec<u8>, b),
            Value::Date(d) => add!(NaiveDate, day(i, d)?),
            Value::Time(t) => add!(NaiveTime, time_of_day(i, t)?),
            Value::Timestamp(t) => add!(DateTime<Utc>, instant(i, t)?),
        };
        added.map_err(|e| format!("parameter {}: {e}", i + 1))?;
    }
    Ok((args, types))
}

/// Arguments for databases that convert parameters themselves: decimals bind as text,
/// dates, times and timestamps as `chrono` values (sessions run in UTC).
macro_rules! loose_arguments {
    ($args:ty, $params:expr) => {{
        let mut args = <$args>::default();
        for (i, v) in $params.into_iter().enumerate() {
            let added = match v {
                Value::Null => args.add(None::<String>),
                Value::Boolean(b) => args.add(b),
                Value::Int(n) => args.add(n),
                Value::Double(f) => args.add(f),
                Value::Decimal(s) => args.add(decimal(i, &s)?.to_plain_string()),
                Value::Text(s) => args.add(s),
                Value::Bytes(b) => args.add(b),
                Value::Date(d) => args.add(day(i, d)?),
                Value::Time(t) => args.add(time_of_day(i, t)?),
                Value::Timestamp(t) => args.add(naive(i, t)?),
            };
            added.map_err(|e| format!("parameter {}: {e}", i + 1))?;
        }
        Ok(args)
    }};
}

/// MySQL/MariaDB arguments.
pub(crate) fn mysql(params: Vec<Value>) -> Result<MySqlArguments, Failed> {
    loose_arguments!(MySqlArguments, params)
}

/// SQLite arguments (dates and times become the ISO-8601 text SQLite's functions use).
pub(crate) fn sqlite(params: Vec<Value>) -> Result<SqliteArguments<'static>, Failed> {
    loose_arguments!(SqliteArguments<'static>, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_convert_and_range_check() {
        assert_eq!(
            time_of_day(0, 3_602_000_005).expect("time"),
            NaiveTime::from_hms_micro_opt(1, 0, 2, 5).expect("time")
        );
        assert!(time_of_day(0, 86_400_000_000).is_err());
        assert!(
            time_of_day(1, -1)
                .expect_err("negative")
                .starts_with("parameter 2")
        );
        assert_eq!(
            day(0, -1).expect("date"),
            NaiveDate::from_ymd_opt(1969, 12, 31).expect("d")
        );
        assert!(day(0, i32::MAX).is_err());
        assert!(decimal(0, "12.x").is_err());
        assert_eq!(
            pg_signature(&[Value::Null, Value::Int(1), Value::Text("a".into())]),
            "nit"
        );
    }
}
