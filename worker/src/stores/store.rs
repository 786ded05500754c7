//! A store: one internal topic plus the state it describes, kept current by applying the
//! topic's records in order. Writes go to the topic and are then read back before the
//! write returns, so a writer always sees its own write in the state (read-your-writes),
//! exactly as every other reader will see it.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use super::FormatError;
use super::config_records::ConfigRecord;
use super::config_state::ConfigState;
use super::offset_state::OffsetState;
use super::status_state::StatusState;
use super::topic_log::{LogRecord, StoreError, TopicLog};

/// State rebuilt from a topic's records.
pub trait Apply: Default + Send + Sync + 'static {
    /// Applies one record. A malformed record is reported and skipped by the store.
    fn apply(&mut self, record: &LogRecord) -> Result<(), FormatError>;
}

fn key_text(record: &LogRecord) -> Result<&str, FormatError> {
    let key = record.key.as_deref().unwrap_or_default();
    std::str::from_utf8(key).map_err(|_| {
        super::malformed(
            "internal",
            &String::from_utf8_lossy(key),
            "the key is not UTF-8",
        )
    })
}

impl Apply for ConfigState {
    fn apply(&mut self, record: &LogRecord) -> Result<(), FormatError> {
        let key = key_text(record)?;
        if let Some(parsed) = ConfigRecord::parse(key, record.value.as_deref())? {
            ConfigState::apply(self, record.offset, parsed);
        } else {
            self.offset = record.offset;
        }
        Ok(())
    }
}

impl Apply for StatusState {
    fn apply(&mut self, record: &LogRecord) -> Result<(), FormatError> {
        StatusState::apply(self, key_text(record)?, record.value.as_deref())
    }
}

impl Apply for OffsetState {
    fn apply(&mut self, record: &LogRecord) -> Result<(), FormatError> {
        OffsetState::apply(
            self,
            record.key.as_deref().unwrap_or_default(),
            record.value.as_deref(),
        )
    }
}

/// A topic and its state. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store<S> {
    log: tokio::sync::Mutex<TopicLog>,
    state: RwLock<S>,
}

impl<S: Apply> Store<S> {
    /// Reads the whole topic into a fresh state.
    pub async fn load(mut log: TopicLog) -> Result<Arc<Self>, StoreError> {
        let mut state = S::default();
        for record in log.read_to_end().await? {
            apply_one(&mut state, log.topic(), &record);
        }
        Ok(Arc::new(Self {
            log: tokio::sync::Mutex::new(log),
            state: RwLock::new(state),
        }))
    }

    /// Applies everything written to the topic since the last sync (by any worker).
    pub async fn sync(&self) -> Result<(), StoreError> {
        let mut log = self.log.lock().await;
        let records = log.read_to_end().await?;
        if records.is_empty() {
            return Ok(());
        }
        let topic = log.topic().to_string();
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for record in &records {
            apply_one(&mut *state, &topic, record);
        }
        Ok(())
    }

    /// Writes a record and waits until it is part of the state.
    pub async fn write(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        self.log.lock().await.send(key, value).await?;
        self.sync().await
    }

    /// Writes several records (sent together) and waits until all are part of the state.
    pub async fn write_many(
        &self,
        records: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        {
            let log = self.log.lock().await;
            let sends = records.iter().map(|(k, v)| log.send(k, v.as_deref()));
            for sent in futures_util::future::join_all(sends).await {
                sent?;
            }
        }
        self.sync().await
    }

    /// The current state.
    pub fn read(&self) -> RwLockReadGuard<'_, S> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the topic in the background, syncing every `every`, until the store is
    /// dropped.
    pub fn follow(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(store) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = store.sync().await {
                    tracing::warn!(error = %e, "cannot follow an internal topic; retrying");
                }
            }
        });
    }
}

fn apply_one<S: Apply>(state: &mut S, topic: &str, record: &LogRecord) {
    if let Err(e) = state.apply(record) {
        tracing::error!(topic, partition = record.partition, offset = record.offset,
            error = %e, "skipping a malformed record of an internal topic");
    }
}
