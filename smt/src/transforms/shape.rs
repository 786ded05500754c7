//! What transforms require of the data they work on, with Connect's `Requirements`
//! messages: schemaless data must be a map (a JSON object), data with a schema a struct.
//! The "found" part names the Java class Connect would have seen for the value.

use serde_json::{Map, Value};

use crate::{Data, SmtError};

/// The Java class JsonConverter would have produced for a schemaless JSON value.
fn schemaless_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "java.lang.Long",
        Value::Number(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.HashMap",
    }
}

/// The Java class of a value of Connect schema type `schema_type`.
fn schema_class(schema_type: &str) -> &'static str {
    match schema_type {
        "int8" => "java.lang.Byte",
        "int16" => "java.lang.Short",
        "int32" => "java.lang.Integer",
        "int64" => "java.lang.Long",
        "float32" => "java.lang.Float",
        "float64" => "java.lang.Double",
        "boolean" => "java.lang.Boolean",
        "string" => "java.lang.String",
        "bytes" => "java.nio.HeapByteBuffer",
        "array" => "java.util.ArrayList",
        "map" => "java.util.HashMap",
        "struct" => "org.apache.kafka.connect.data.Struct",
        _ => "java.lang.Object",
    }
}

/// The schema's `type`.
pub(crate) fn schema_type(schema: &Value) -> &str {
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A schemaless payload that must be a map or null.
pub(crate) fn require_map_or_null<'a>(
    payload: &'a Value,
    purpose: &str,
) -> Result<Option<&'a Map<String, Value>>, SmtError> {
    match payload {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        other => Err(not_a_map(other, purpose)),
    }
}

/// A schemaless payload that must be a map.
pub(crate) fn require_map<'a>(
    payload: &'a Value,
    purpose: &str,
) -> Result<&'a Map<String, Value>, SmtError> {
    match payload {
        Value::Object(map) => Ok(map),
        other => Err(not_a_map(other, purpose)),
    }
}

fn not_a_map(value: &Value, purpose: &str) -> SmtError {
    SmtError::Data(format!(
        "Only Map objects supported in absence of schema for [{purpose}], found: {}",
        schemaless_class(value)
    ))
}

/// A struct payload and its field schemas.
pub(crate) type Struct<'a> = (&'a Map<String, Value>, &'a [Value]);

/// Data with a schema that must be a struct or null.
pub(crate) fn require_struct_or_null<'a>(
    payload: &'a Value,
    schema: &'a Value,
    purpose: &str,
) -> Result<Option<Struct<'a>>, SmtError> {
    if payload.is_null() {
        return Ok(None);
    }
    require_struct(payload, schema, purpose).map(Some)
}

/// Data with a schema that must be a struct.
pub(crate) fn require_struct<'a>(
    payload: &'a Value,
    schema: &'a Value,
    purpose: &str,
) -> Result<Struct<'a>, SmtError> {
    let kind = schema_type(schema);
    let fields = schema.get("fields").and_then(Value::as_array);
    match (payload, kind, fields) {
        (Value::Object(map), "struct", Some(fields)) => Ok((map, fields)),
        _ => {
            let found = if payload.is_null() {
                "null"
            } else {
                schema_class(kind)
            };
            Err(SmtError::Data(format!(
                "Only Struct objects supported for [{purpose}], found: {found}"
            )))
        }
    }
}

/// The schema of field `name` among a struct's `fields`.
pub(crate) fn field_schema<'a>(fields: &'a [Value], name: &str) -> Option<&'a Value> {
    fields
        .iter()
        .find(|f| f.get("field").and_then(Value::as_str) == Some(name))
}

/// A field's value in a struct payload; a null value takes the field's default when
/// `replace_null_with_default` and the schema has one (Connect's `Struct.get`).
pub(crate) fn struct_value(
    payload: &Map<String, Value>,
    schema: &Value,
    name: &str,
    replace_null_with_default: bool,
) -> Value {
    match payload.get(name) {
        Some(v) if !v.is_null() => v.clone(),
        _ if replace_null_with_default => schema.get("default").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// [`struct_value`] in place: the field's slot in `payload` (created null when missing),
/// holding the field's default when it was null and `replace_null_with_default` holds.
pub(crate) fn struct_value_mut<'a>(
    payload: &'a mut Map<String, Value>,
    schema: &Value,
    name: &str,
    replace_null_with_default: bool,
) -> Option<&'a mut Value> {
    if !payload.contains_key(name) {
        payload.insert(name.to_string(), Value::Null);
    }
    let slot = payload.get_mut(name)?;
    if slot.is_null()
        && replace_null_with_default
        && let Some(default) = schema.get("default")
    {
        *slot = default.clone();
    }
    Some(slot)
}

/// A field's schema without its `field` name, as the schema of a value on its own.
pub(crate) fn standalone_schema(field: &Value) -> Value {
    match field {
        Value::Object(map) => {
            let mut map = map.clone();
            map.remove("field");
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// The data a transform produced: `None` for a null payload without schema.
pub(crate) fn data(payload: Value, schema: Option<Value>) -> Option<Data> {
    if payload.is_null() && schema.is_none() {
        None
    } else {
        Some(Data { payload, schema })
    }
}

/// A struct: `payload`, with `schema`'s name, version, doc and parameters but `fields` as its
/// fields.
pub(crate) fn restructured(schema: &Value, fields: Vec<Value>, payload: Value) -> Data {
    // Copies everything but the old fields (cloning them only to drop them costs more than
    // the transform itself on a small record).
    let mut out = Map::new();
    if let Some(m) = schema.as_object() {
        for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "fields") {
            out.insert(k.clone(), v.clone());
        }
    }
    out.insert("fields".into(), Value::Array(fields));
    Data {
        payload,
        schema: Some(Value::Object(out)),
    }
}

/// A value as a header, as SimpleHeaderConverter writes it: text as its UTF-8 bytes, null as
/// a null header, other values as their JSON text.
pub(crate) fn header_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}
