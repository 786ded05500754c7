//! Active topics (KIP-558) and source offsets of a connector: listing and resetting topics,
//! and altering or resetting offsets of a STOPPED connector (KIP-875).

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
        if self.info(name)?.kind != "source" {
            return Err(HerderError::BadRequest(format!(
                "Changing the offsets of connector {name} is not available: Culvert can alter \
                 source connector offsets only so far"
            )));
        }
        Ok(())
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
