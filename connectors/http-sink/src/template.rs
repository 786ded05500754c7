//! URL templates: `https://api.example.com/customers/${value.customer_id}/events` sends each
//! record to the URL its own fields give. Placeholders: `${topic}`, `${partition}`, `${key}`
//! (the key as text), `${key.<path>}` and `${value.<path>}` (dotted paths into the JSON key
//! or value; Connect envelopes are looked through to their payload). Substituted values are
//! percent-encoded, so a field cannot change the URL's structure.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Topic,
    Partition,
    Key,
    KeyField(Vec<String>),
    ValueField(Vec<String>),
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlTemplate {
    parts: Vec<Part>,
}

/// What a placeholder may read from one record.
pub(crate) struct Fields<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) key_text: Option<&'a str>,
    pub(crate) key: Option<&'a Value>,
    pub(crate) value: Option<&'a Value>,
}

impl UrlTemplate {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                format!("the placeholder at {:?} has no closing }}", &rest[start..])
            })?;
            let name = after[..end].trim();
            let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
            parts.push(match name {
                "topic" => Part::Topic,
                "partition" => Part::Partition,
                "key" => Part::Key,
                n if n.starts_with("key.") && n.len() > 4 => Part::KeyField(path(&n[4..])),
                n if n.starts_with("value.") && n.len() > 6 => Part::ValueField(path(&n[6..])),
                other => {
                    return Err(format!(
                        "unknown placeholder ${{{other}}}: use ${{topic}}, ${{partition}}, \
                         ${{key}}, ${{key.field}} or ${{value.field}}"
                    ));
                }
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        let template = Self { parts };
        let fixed = template.parts.iter().all(|p| matches!(p, Part::Text(_)));
        if fixed && !(raw.starts_with("http://") || raw.starts_with("https://")) {
            return Err(format!("{raw:?} is not an http:// or https:// URL"));
        }
        Ok(template)
    }

    /// Whether any placeholder reads the record's key or value.
    pub(crate) fn reads_record(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Key | Part::KeyField(_) | Part::ValueField(_)))
    }

    /// Whether rendering reads fields of the record's value.
    pub(crate) fn reads_value(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::ValueField(_)))
    }

    /// The URL for one record, or why it has none.
    pub(crate) fn render(&self, f: &Fields<'_>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Topic => encode(f.topic, &mut out),
                Part::Partition => out.push_str(&f.partition.to_string()),
                Part::Key => match f.key_text {
                    Some(k) => encode(k, &mut out),
                    None => return Err("the URL needs ${key} but the record has no key".into()),
                },
                Part::KeyField(path) => encode(&lookup(f.key, path, "key")?, &mut out),
                Part::ValueField(path) => encode(&lookup(f.value, path, "value")?, &mut out),
            }
        }
        Ok(out)
    }
}

fn lookup(root: Option<&Value>, path: &[String], side: &str) -> Result<String, String> {
    let mut at = root.ok_or_else(|| format!("the URL reads the {side}, which is not JSON"))?;
    for name in path {
        at = at.get(name).ok_or_else(|| {
            format!(
                "the URL needs ${{{side}.{}}}, which the record lacks",
                path.join(".")
            )
        })?;
    }
    match at {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "${{{side}.{}}} is {at}, not a string, number or boolean",
            path.join(".")
        )),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}
