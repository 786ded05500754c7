//! Active topics (KIP-558) and offsets of a connector: listing and resetting topics, and
//! altering or resetting offsets of a STOPPED connector (KIP-875) — a source's in the
//! offsets topic, a sink's in its consumer group (through the runtime).

use serde_json::Value;

use super::{Herder, HerderError};
use crate::stores::{StatusKey, TargetState, encode_offset_key};

impl Herder {
    /// The topics the connector has used (`GET /connectors/{name}/topics`).
    pub fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        if !self.topic_tracking.0 {
            return Err(HerderError::Forbidden("Topic tracking is disabled.".into()));
        }
        self.config(name)?;
        Ok(self
            .statuses
            .read()
            .topics(name)
            .map(str::to_string)
            .collect())
    }

    /// Forgets the connector's active topics (`PUT /connectors/{name}/topics/reset`).
    pub async fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        if !self.topic_tracking.0 {
            return Err(HerderError::Forbidden("Topic tracking is disabled.".into()));
        }
        if !self.topic_tracking.1 {
            return Err(HerderError::Forbidden(
                "Topic tracking reset is disabled.".into(),
            ));
        }
        for topic in self.topics(name)? {
            let key = StatusKey::Topic(topic, name.to_string()).encode();
            self.statuses.write(key.as_bytes(), None).await?;
        }
        Ok(())
    }

    fn check_offsets_changeable(&self, name: &str) -> Result<(), HerderError> {
        if self.target_state(name)? != TargetState::Stopped {
            return Err(HerderError::BadRequest(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
                    .replace("{name}", name),
            ));
        }
        Ok(())
    }

    /// The runtime and configuration for changing a sink's offsets.
    fn sink_runtime(
        &self,
        name: &str,
    ) -> Result<Option<(&crate::runtime::Runtime, crate::stores::Properties)>, HerderError> {
        let config = self.config(name)?;
        if self.kind_of(&config) != "sink" {
            return Ok(None);
        }
        let runtime = self.runtime.as_ref().ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Changing the offsets of sink connector {name} needs the task runtime, which \
                 this worker does not run"
            ))
        })?;
        Ok(Some((runtime, config)))
    }

    /// Writes new offsets (`None` removes a partition's offset) for a STOPPED source
    /// connector (`PATCH /connectors/{name}/offsets`).
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<(Value, Option<Value>)>,
    ) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        self.check_offsets_changeable(name)?;
        if offsets.is_empty() {
            return Err(HerderError::BadRequest(
                "The offsets to be altered must not be empty".into(),
            ));
        }
        if let Some((runtime, config)) = self.sink_runtime(name)? {
            let parsed = offsets
                .iter()
                .map(|(p, o)| sink_partition_offset(p, o.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            return runtime
                .alter_sink_offsets(name, &config, parsed)
                .await
                .map_err(HerderError::Internal);
        }
        for (partition, offset) in offsets {
            if !partition.is_object() {
                return Err(HerderError::BadRequest(format!(
                    "A source partition must be a JSON object, not {partition}"
                )));
            }
            let value = offset.map(|o| o.to_string().into_bytes());
            self.offsets
                .write(&encode_offset_key(name, &partition), value.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Removes every offset of a STOPPED source connector (`DELETE .../offsets`).
    pub async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        self.check_offsets_changeable(name)?;
        if let Some((runtime, config)) = self.sink_runtime(name)? {
            return runtime
                .reset_sink_offsets(name, &config)
                .await
                .map_err(HerderError::Internal);
        }
        let partitions: Vec<Value> = self
            .offsets
            .read()
            .offsets(name)
            .map(|(p, _)| p.clone())
            .collect();
        for partition in partitions {
            self.offsets
                .write(&encode_offset_key(name, &partition), None)
                .await?;
        }
        Ok(())
    }
}

/// A sink partition and offset as KIP-875 writes them: `{"kafka_topic": "t",
/// "kafka_partition": 0}` and `{"kafka_offset": 5}` or null (reset).
fn sink_partition_offset(
    partition: &Value,
    offset: Option<&Value>,
) -> Result<(String, i32, Option<i64>), HerderError> {
    let bad = |what: String| HerderError::BadRequest(what);
    let topic = partition
        .get("kafka_topic")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "A sink partition must name its topic in \"kafka_topic\": {partition}"
            ))
        })?;
    let number = partition
        .get("kafka_partition")
        .and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p >= 0)
        .ok_or_else(|| {
            bad(format!(
                "A sink partition must give a non-negative integer \"kafka_partition\": \
                 {partition}"
            ))
        })?;
    let offset = match offset {
        None | Some(Value::Null) => None,
        Some(o) => Some(
            o.get("kafka_offset")
                .and_then(Value::as_i64)
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    bad(format!(
                        "A sink offset must be a non-negative integer \"kafka_offset\": {o}"
                    ))
                })?,
        ),
    };
    Ok((topic.to_string(), number, offset))
}
