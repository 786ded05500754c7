//! Rows as record values: Connect's JSON envelope `{"schema": ..., "payload": ...}` with a
//! struct schema derived from the columns' database types, as Connect's JDBC source builds
//! it (the worker's converter keeps or strips the schema per `value.converter.schemas.enable`).
//!
//! Types: booleans; int8/16/32/64 by column width; float32/64; NUMERIC/DECIMAL as Connect's
//! `Decimal` (exact digits, written as a JSON number; scale = the most fraction digits in the
//! batch) or, with `numeric.mapping=best_fit`, int64 when every value is whole, else float64;
//! DATE, TIME and TIMESTAMP as Connect's `Date` (days), `Time` (ms of day) and `Timestamp`
//! (ms) logical types; binary columns as base64 `bytes`; everything else as strings.

use std::fmt::Write as _;
use std::io::Write as _;

use culvert_connector_sdk::sql::{Column, Value};

use crate::settings::NumericMapping;

/// A column's Connect type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Exact decimal with this scale.
    Decimal(u32),
    Date,
    Time,
    Timestamp,
    Bytes,
    String,
}

fn kind_of_type(type_name: &str) -> Option<Kind> {
    let upper = type_name.to_ascii_uppercase();
    let unsigned = upper.contains("UNSIGNED");
    let base = upper.split_whitespace().next().unwrap_or_default();
    Some(match base {
        "BOOL" | "BOOLEAN" => Kind::Boolean,
        "TINYINT" if unsigned => Kind::Int16,
        "TINYINT" => Kind::Int8,
        "INT2" | "SMALLINT" | "SMALLSERIAL" if unsigned => Kind::Int32,
        "INT2" | "SMALLINT" | "SMALLSERIAL" => Kind::Int16,
        "INT" | "INT4" | "INTEGER" | "MEDIUMINT" | "SERIAL" | "YEAR" if unsigned => Kind::Int64,
        "INT" | "INT4" | "INTEGER" | "MEDIUMINT" | "SERIAL" | "YEAR" => Kind::Int32,
        "INT8" | "BIGINT" | "BIGSERIAL" => Kind::Int64,
        "FLOAT4" | "REAL" | "FLOAT" => Kind::Float32,
        "FLOAT8" | "DOUBLE" => Kind::Float64,
        "NUMERIC" | "DECIMAL" => Kind::Decimal(0),
        "DATE" => Kind::Date,
        "TIME" | "TIMETZ" => Kind::Time,
        "TIMESTAMP" | "TIMESTAMPTZ" | "DATETIME" => Kind::Timestamp,
        "BYTEA" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY" => {
            Kind::Bytes
        }
        "" => return None,
        _ => Kind::String,
    })
}

fn kind_of_value(value: &Value) -> Option<Kind> {
    Some(match value {
        Value::Null => return None,
        Value::Boolean(_) => Kind::Boolean,
        Value::Int(_) => Kind::Int64,
        Value::Double(_) => Kind::Float64,
        Value::Decimal(_) => Kind::Decimal(0),
        Value::Text(_) => Kind::String,
        Value::Bytes(_) => Kind::Bytes,
        Value::Date(_) => Kind::Date,
        Value::Time(_) => Kind::Time,
        Value::Timestamp(_) => Kind::Timestamp,
    })
}

/// Digits after the decimal point of a decimal's text.
fn scale_of(text: &str) -> u32 {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .position(|b| *b == b'.')
        .map_or(0, |dot| (bytes.len() - dot - 1) as u32)
}

/// Writes rows of one result set as envelopes.
#[derive(Debug)]
pub(crate) struct RowWriter {
    kinds: Vec<Kind>,
    names: Vec<String>,
    /// `{"schema":<schema>,"payload":` — the same for every row of the batch.
    prefix: String,
}

impl RowWriter {
    /// Derives the schema for `columns` (nullability from `nullable`, by column position)
    /// and the values in `rows`; `name` names the struct (the table).
    pub(crate) fn new(
        columns: &[Column],
        nullable: &[Option<bool>],
        rows: &[Vec<Value>],
        name: Option<&str>,
        numeric: NumericMapping,
    ) -> Self {
        let mut kinds = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let mut kind = kind_of_type(&column.type_name)
                .or_else(|| rows.iter().find_map(|r| r.get(i).and_then(kind_of_value)))
                .unwrap_or(Kind::String);
            if matches!(kind, Kind::Decimal(_)) {
                let texts = rows.iter().filter_map(|r| match r.get(i) {
                    Some(Value::Decimal(t)) => Some(t.as_str()),
                    _ => None,
                });
                kind = match numeric {
                    NumericMapping::Decimal => {
                        Kind::Decimal(texts.map(scale_of).max().unwrap_or(0))
                    }
                    NumericMapping::BestFit => {
                        let mut texts = texts;
                        if texts.all(|t| !t.contains('.') && t.parse::<i64>().is_ok()) {
                            Kind::Int64
                        } else {
                            Kind::Float64
                        }
                    }
                };
            }
            kinds.push(kind);
        }
        let mut schema = String::from("{\"type\":\"struct\",\"fields\":[");
        for (i, (column, kind)) in columns.iter().zip(&kinds).enumerate() {
            if i > 0 {
                schema.push(',');
            }
            let optional = nullable.get(i).copied().flatten() != Some(false);
            schema.push_str(&field_schema(*kind, optional));
            schema.pop();
            let _ = write!(schema, ",\"field\":{}}}", json_string(&column.name));
        }
        schema.push_str("],\"optional\":false");
        if let Some(name) = name {
            let _ = write!(schema, ",\"name\":{}", json_string(name));
        }
        schema.push('}');
        Self {
            kinds,
            names: columns.iter().map(|c| json_string(&c.name)).collect(),
            prefix: format!("{{\"schema\":{schema},\"payload\":"),
        }
    }

    /// About how many bytes a row's envelope takes (for reserving buffer space).
    pub(crate) fn row_size_hint(&self) -> usize {
        self.prefix.len() + 24 * self.kinds.len()
    }

    /// Appends one row as an envelope to `out`.
    pub(crate) fn write(&self, row: &[Value], out: &mut Vec<u8>) {
        out.extend_from_slice(self.prefix.as_bytes());
        out.push(b'{');
        for (i, (name, kind)) in self.names.iter().zip(&self.kinds).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            write_value(row.get(i).unwrap_or(&Value::Null), *kind, out);
        }
        out.extend_from_slice(b"}}");
    }
}

fn field_schema(kind: Kind, optional: bool) -> String {
    let logical = |ty: &str, name: &str| {
        format!(
            "{{\"type\":\"{ty}\",\"optional\":{optional},\"name\":\"org.apache.kafka.connect.data.{name}\",\"version\":1}}"
        )
    };
    let plain = |ty: &str| format!("{{\"type\":\"{ty}\",\"optional\":{optional}}}");
    match kind {
        Kind::Boolean => plain("boolean"),
        Kind::Int8 => plain("int8"),
        Kind::Int16 => plain("int16"),
        Kind::Int32 => plain("int32"),
        Kind::Int64 => plain("int64"),
        Kind::Float32 => plain("float"),
        Kind::Float64 => plain("double"),
        Kind::Decimal(scale) => format!(
            "{{\"type\":\"bytes\",\"optional\":{optional},\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,\"parameters\":{{\"scale\":\"{scale}\"}}}}"
        ),
        Kind::Date => logical("int32", "Date"),
        Kind::Time => logical("int32", "Time"),
        Kind::Timestamp => logical("int64", "Timestamp"),
        Kind::Bytes => plain("bytes"),
        Kind::String => plain("string"),
    }
}

fn write_value(value: &Value, kind: Kind, out: &mut Vec<u8>) {
    let word = |b: bool| if b { &b"true"[..] } else { &b"false"[..] };
    match (value, kind) {
        (Value::Null, _) => out.extend_from_slice(b"null"),
        (Value::Boolean(b), _) => out.extend_from_slice(word(*b)),
        (Value::Int(n), Kind::Boolean) => out.extend_from_slice(word(*n != 0)),
        (Value::Int(n), Kind::Float32 | Kind::Float64) => {
            let _ = write!(out, "{}", *n as f64);
        }
        (Value::Int(n), _) => push_int(*n, out),
        (Value::Double(d), _) if d.is_finite() => {
            let _ = write!(out, "{d:?}");
        }
        (Value::Double(_), _) => out.extend_from_slice(b"null"),
        (Value::Decimal(t), Kind::Float32 | Kind::Float64) => match t.parse::<f64>() {
            Ok(d) if d.is_finite() => {
                let _ = write!(out, "{d:?}");
            }
            _ => out.extend_from_slice(b"null"),
        },
        (Value::Decimal(t), _) if is_decimal_text(t) => out.extend_from_slice(t.as_bytes()),
        (Value::Decimal(t) | Value::Text(t), _) => push_json_string(t, out),
        (Value::Bytes(b), Kind::Bytes) => {
            let mut text = String::with_capacity(b.len() * 4 / 3 + 6);
            text.push('"');
            culvert_connector_sdk::encoding::base64_into(b, &mut text);
            text.push('"');
            out.extend_from_slice(text.as_bytes());
        }
        (Value::Bytes(b), _) => push_json_string(&String::from_utf8_lossy(b), out),
        (Value::Date(d), _) => push_int(i64::from(*d), out),
        (Value::Time(us) | Value::Timestamp(us), _) => push_int(us.div_euclid(1000), out),
    }
}

/// Whether `t` is a plain decimal number JSON accepts as written (`-12.50`, `7`).
fn is_decimal_text(t: &str) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t).as_bytes();
    let mut dot = None;
    for (i, b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {}
            b'.' if dot.is_none() => dot = Some(i),
            _ => return false,
        }
    }
    let int_len = dot.unwrap_or(digits.len());
    int_len > 0 && dot.is_none_or(|d| d + 1 < digits.len()) && !(int_len > 1 && digits[0] == b'0')
}

/// Appends `n` in decimal (what `write!` does, without the formatting machinery).
fn push_int(n: i64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 21];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    out.extend_from_slice(&digits[at..]);
}

/// The index of the first byte of `bytes` that JSON strings escape (`"`, `\\`, control
/// characters), checking eight bytes at a time.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `w` is below `n` (n <= 0x80), or equal to `c`.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let equal = |w: u64, c: u8| below(w ^ (ONES * u64::from(c)), 1);
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_ne_bytes(word);
        if below(w, 0x20) || equal(w, b'"') || equal(w, b'\\') {
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|b| *b == b'"' || *b == b'\\' || *b < b' ')
        .map(|i| at + i)
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_json_string(s, &mut out);
    // Escaping keeps the text valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `s` as a JSON string literal: quoted, with `"`, `\\` and control characters
/// escaped.
pub(crate) fn push_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(at) = first_to_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        match rest[at] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}
