//! The transforms, one per file, and their class names.

mod cast;
mod cast_logical;
mod confluent_filter;
mod drop_headers;
mod extract_field;
mod extract_new_record_state;
mod extract_topic;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod json_path;
mod json_path_extract;
mod json_path_remove;
mod json_path_set;
mod mask_field;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
pub(crate) mod shape;
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

    /// The record's key or value, to read.
    pub(crate) fn peek(self, record: &crate::Record) -> Option<&crate::Data> {
        match self {
            Part::Key => record.key.as_ref(),
            Part::Value => record.value.as_ref(),
        }
    }
}

const PACKAGE: &str = "org.apache.kafka.connect.transforms.";
const CULVERT_PACKAGE: &str = "io.culvert.transforms.";
/// Confluent's `Filter$Key`/`$Value` and Kafka's `Filter` differ by suffix, so short names
/// stay unambiguous.
const CONFLUENT_PACKAGE: &str = "io.confluent.connect.transforms.";

/// The full class names of the transforms [`build`] knows.
pub const CLASSES: [&str; 38] = [
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
    "io.confluent.connect.transforms.Filter$Key",
    "io.confluent.connect.transforms.Filter$Value",
    "io.confluent.connect.transforms.ExtractTopic$Key",
    "io.confluent.connect.transforms.ExtractTopic$Value",
    "io.confluent.connect.transforms.ExtractTopic$Header",
    "io.culvert.transforms.JsonPathExtract$Key",
    "io.culvert.transforms.JsonPathExtract$Value",
    "io.culvert.transforms.JsonPathSet$Key",
    "io.culvert.transforms.JsonPathSet$Value",
    "io.culvert.transforms.JsonPathRemove$Key",
    "io.culvert.transforms.JsonPathRemove$Value",
];

/// Builds the transform a `type` names (full class name or the simple one).
pub(crate) fn build(class: &str, s: &Settings<'_>) -> Result<Option<Box<dyn Transform>>, SmtError> {
    let simple = [PACKAGE, CULVERT_PACKAGE, CONFLUENT_PACKAGE]
        .iter()
        .find_map(|p| class.strip_prefix(p))
        .unwrap_or(class);
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
        "Filter$Key" => Box::new(confluent_filter::ConfluentFilter::new(s, Part::Key)?),
        "Filter$Value" => Box::new(confluent_filter::ConfluentFilter::new(s, Part::Value)?),
        "ExtractTopic$Key" => Box::new(extract_topic::ExtractTopic::new(s, Some(Part::Key))?),
        "ExtractTopic$Value" => Box::new(extract_topic::ExtractTopic::new(s, Some(Part::Value))?),
        "ExtractTopic$Header" => Box::new(extract_topic::ExtractTopic::new(s, None)?),
        "JsonPathExtract$Key" => Box::new(json_path_extract::JsonPathExtract::new(s, Part::Key)?),
        "JsonPathExtract$Value" => {
            Box::new(json_path_extract::JsonPathExtract::new(s, Part::Value)?)
        }
        "JsonPathSet$Key" => Box::new(json_path_set::JsonPathSet::new(s, Part::Key)?),
        "JsonPathSet$Value" => Box::new(json_path_set::JsonPathSet::new(s, Part::Value)?),
        "JsonPathRemove$Key" => Box::new(json_path_remove::JsonPathRemove::new(s, Part::Key)?),
        "JsonPathRemove$Value" => Box::new(json_path_remove::JsonPathRemove::new(s, Part::Value)?),
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
