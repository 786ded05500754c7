//! The transforms, one per file, and their class names.

mod cast;
mod drop_headers;
mod extract_field;
mod extract_new_record_state;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod shape;
mod timestamp_converter;
mod timestamp_router;
mod value_to_key;

use crate::config::Settings;
use crate::{SmtError, Transform};

/// Which part of a record a `$Key`/`$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Key,
    Value,
}

impl Part {
    /// The record's key or value.
    pub(crate) fn of(self, record: &mut crate::Record) -> &mut Option<crate::Data> {
        match self {
            Part::Key => &mut record.key,
            Part::Value => &mut record.value,
        }
    }
}

const PACKAGE: &str = "org.apache.kafka.connect.transforms.";

/// The full class names of the transforms [`build`] knows.
pub const CLASSES: [&str; 27] = [
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.DropHeaders",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.Flatten$Key",
    "org.apache.kafka.connect.transforms.Flatten$Value",
    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.InsertHeader",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.ValueToKey",
    "io.debezium.transforms.ExtractNewRecordState",
];

/// Builds the transform a `type` names (full class name or the simple one).
pub(crate) fn build(class: &str, s: &Settings<'_>) -> Result<Option<Box<dyn Transform>>, SmtError> {
    let simple = class.strip_prefix(PACKAGE).unwrap_or(class);
    Ok(Some(match simple {
        "RegexRouter" => Box::new(regex_router::RegexRouter::new(s)?),
        "HoistField$Key" => Box::new(hoist_field::HoistField::new(s, Part::Key)?),
        "HoistField$Value" => Box::new(hoist_field::HoistField::new(s, Part::Value)?),
        "ExtractField$Key" => Box::new(extract_field::ExtractField::new(s, Part::Key)?),
        "ExtractField$Value" => Box::new(extract_field::ExtractField::new(s, Part::Value)?),
        "ValueToKey" => Box::new(value_to_key::ValueToKey::new(s)?),
        "io.debezium.transforms.ExtractNewRecordState" | "ExtractNewRecordState" | "Unwrap" => {
            Box::new(extract_new_record_state::ExtractNewRecordState::new(s)?)
        }
        "TimestampConverter$Key" => {
            Box::new(timestamp_converter::TimestampConverter::new(s, Part::Key)?)
        }
        "TimestampConverter$Value" => Box::new(timestamp_converter::TimestampConverter::new(
            s,
            Part::Value,
        )?),
        "Filter" => Box::new(filter::Filter),
        "Cast$Key" => Box::new(cast::Cast::new(s, Part::Key)?),
        "Cast$Value" => Box::new(cast::Cast::new(s, Part::Value)?),
        "TimestampRouter" => Box::new(timestamp_router::TimestampRouter::new(s)?),
        "HeaderFrom$Key" => Box::new(header_from::HeaderFrom::new(s, Part::Key)?),
        "HeaderFrom$Value" => Box::new(header_from::HeaderFrom::new(s, Part::Value)?),
        "InsertField$Key" => Box::new(insert_field::InsertField::new(s, Part::Key)?),
        "InsertField$Value" => Box::new(insert_field::InsertField::new(s, Part::Value)?),
        "Flatten$Key" => Box::new(flatten::Flatten::new(s, Part::Key)?),
        "Flatten$Value" => Box::new(flatten::Flatten::new(s, Part::Value)?),
        "MaskField$Key" => Box::new(mask_field::MaskField::new(s, Part::Key)?),
        "MaskField$Value" => Box::new(mask_field::MaskField::new(s, Part::Value)?),
        "SetSchemaMetadata$Key" => {
            Box::new(set_schema_metadata::SetSchemaMetadata::new(s, Part::Key)?)
        }
        "SetSchemaMetadata$Value" => {
            Box::new(set_schema_metadata::SetSchemaMetadata::new(s, Part::Value)?)
        }
        "ReplaceField$Key" => Box::new(replace_field::ReplaceField::new(s, Part::Key)?),
        "ReplaceField$Value" => Box::new(replace_field::ReplaceField::new(s, Part::Value)?),
        "DropHeaders" => Box::new(drop_headers::DropHeaders::new(s)?),
        "InsertHeader" => Box::new(insert_header::InsertHeader::new(s)?),
        _ => return Ok(None),
    }))
}
