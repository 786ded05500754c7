//! The broker's shared state: topics and their partitions, cluster identity, and the
//! operations request handlers perform on them (create, delete, look up).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use kafka_protocol::ResponseError;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::error::{BrokerError, LogError};
use crate::group::GroupCoordinator;
use crate::log::PartitionLog;
use crate::partition::Partition;
use crate::topic::{Topic, TopicRecord, TopicsFile, validate_name};
use crate::topic_config::TopicConfig;
use crate::txn::TxnCoordinator;

/// An error a request handler reports to the client: a Kafka error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ResponseError,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The broker state shared by every connection.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    cluster_id: String,
    /// Host and port clients are told to use.
    advertised: (String, u16),
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes changes to the topic set and their persistence.
    meta_lock: Mutex<()>,
    /// Woken when records become visible in any partition (long-polling fetches wait on it).
    data_ready: Arc<Notify>,
    /// Producer ids: `(next, end of the block reserved on disk)`.
    producer_ids: Mutex<(i64, i64)>,
    /// The group coordinator, set once at start (it lives in a topic of this broker).
    groups: OnceLock<GroupCoordinator>,
    /// The transaction coordinator, set once at start after the group coordinator.
    txns: OnceLock<TxnCoordinator>,
    /// Held for the broker's lifetime: one broker per data directory.
    _dir_lock: File,
}

const META_DIR: &str = "meta";
const TOPICS_FILE: &str = "topics.json";
const CLUSTER_FILE: &str = "cluster-id";
const DELETE_SUFFIX: &str = "-delete";
const PRODUCER_IDS_FILE: &str = "producer-id-block";
/// Producer ids reserved on disk at a time (one metadata write per block).
const PRODUCER_ID_BLOCK: i64 = 1000;

fn meta_err(path: &Path, reason: impl std::fmt::Display) -> BrokerError {
    BrokerError::Metadata {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync directory).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(LogError::io("write", &tmp))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(LogError::io("rename", path))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(LogError::io("sync dir", dir))?;
    }
    Ok(())
}

impl Broker {
    /// Opens the data directory: takes its lock, loads the cluster id and topics, opens (and
    /// if needed recovers) every partition, and clears leftovers of deleted topics.
    pub fn open(config: BrokerConfig, advertised: (String, u16)) -> Result<Self, BrokerError> {
        let dir = config.data_dir.clone();
        let meta = dir.join(META_DIR);
        fs::create_dir_all(&meta).map_err(LogError::io("create data dir", &meta))?;
        let lock_path = dir.join(".lock");
        let lock_file = File::create(&lock_path).map_err(LogError::io("open", &lock_path))?;
        if lock_file.try_lock().is_err() {
            return Err(BrokerError::DataDirLocked(dir));
        }
        let cluster_path = meta.join(CLUSTER_FILE);
        let cluster_id = match fs::read_to_string(&cluster_path) {
            Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
            Ok(_) => return Err(meta_err(&cluster_path, "empty cluster id")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Uuid::new_v4().simple().to_string();
                write_atomic(&cluster_path, id.as_bytes())?;
                id
            }
            Err(e) => return Err(LogError::io("read", &cluster_path)(e).into()),
        };
        remove_deleted_leftovers(&dir);
        let pid_path = meta.join(PRODUCER_IDS_FILE);
        let next_pid = match fs::read_to_string(&pid_path) {
            Ok(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| meta_err(&pid_path, format!("{text:?} is not a producer id")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(LogError::io("read", &pid_path)(e).into()),
        };

        let data_ready = Arc::new(Notify::new());
        let topics_path = meta.join(TOPICS_FILE);
        let file: TopicsFile = match fs::read(&topics_path) {
            Ok(raw) => serde_json::from_slice(&raw).map_err(|e| meta_err(&topics_path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TopicsFile::default(),
            Err(e) => return Err(LogError::io("read", &topics_path)(e).into()),
        };
        let mut topics = BTreeMap::new();
        for rec in file.topics {
            let topic_config = TopicConfig::new(rec.configs, &config)
                .map_err(|e| meta_err(&topics_path, format!("topic {}: {e}", rec.name)))?;
            let topic = open_topic(
                &dir,
                rec.name,
                rec.id,
                rec.partitions,
                topic_config,
                &data_ready,
            )?;
            topics.insert(topic.name.clone(), Arc::new(topic));
        }
        Ok(Self {
            config,
            cluster_id,
            advertised,
            topics: RwLock::new(topics),
            meta_lock: Mutex::new(()),
            data_ready,
            producer_ids: Mutex::new((next_pid, next_pid)),
            groups: OnceLock::new(),
            txns: OnceLock::new(),
            _dir_lock: lock_file,
        })
    }

    /// Allocates a producer id, never reused across restarts (ids are reserved on disk in
    /// blocks before they are handed out).
    pub fn allocate_producer_id(&self) -> Result<i64, LogError> {
        let mut ids = self
            .producer_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if ids.0 >= ids.1 {
            let end = ids.0 + PRODUCER_ID_BLOCK;
            let path = self.config.data_dir.join(META_DIR).join(PRODUCER_IDS_FILE);
            write_atomic(&path, end.to_string().as_bytes())?;
            ids.1 = end;
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Starts the group coordinator (replaying `__consumer_offsets`), then the transaction
    /// coordinator (replaying `__transaction_state`), which settles offsets through it.
    pub(crate) fn start_coordinators(&self) -> Result<(), BrokerError> {
        let coordinator = GroupCoordinator::open(self)?;
        let _ = self.groups.set(coordinator);
        let coordinator = TxnCoordinator::open(self)?;
        let _ = self.txns.set(coordinator);
        Ok(())
    }

    /// The transaction coordinator; `None` only while the broker is starting.
    pub(crate) fn txns(&self) -> Option<&TxnCoordinator> {
        self.txns.get()
    }

    /// Partition 0 of an internal compacted topic (`__consumer_offsets`,
    /// `__transaction_state`), created with `flush.policy=always` if missing.
    pub(crate) fn internal_partition(&self, name: &str) -> Result<Arc<Partition>, BrokerError> {
        let topic = match self.topic(name) {
            Some(t) => t,
            None => {
                let configs = BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    ("flush.policy".to_string(), "always".to_string()),
                ]);
                self.create_topic(name, 1, -1, configs, false)
                    .map_err(|e| BrokerError::Metadata {
                        path: name.into(),
                        reason: e.message,
                    })?
            }
        };
        topic
            .partition(0)
            .cloned()
            .ok_or_else(|| BrokerError::Metadata {
                path: name.into(),
                reason: "the topic has no partition 0".into(),
            })
    }

    /// The group coordinator; `None` only while the broker is starting.
    pub(crate) fn groups(&self) -> Option<&GroupCoordinator> {
        self.groups.get()
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Host and port advertised to clients.
    pub fn advertised(&self) -> (&str, u16) {
        (&self.advertised.0, self.advertised.1)
    }

    /// Notified whenever records become visible in some partition.
    pub fn data_ready(&self) -> &Arc<Notify> {
        &self.data_ready
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Every topic, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Creates a topic. `partitions` of -1 means the broker default; `replication_factor`
    /// must be -1 or 1 on a single node. With `validate_only` nothing is created.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ApiError> {
        validate_name(name).map_err(|m| ApiError::new(ResponseError::InvalidTopicException, m))?;
        let partitions = match partitions {
            -1 => self.config.default_partitions,
            n if n > 0 => n,
            n => {
                return Err(ApiError::new(
                    ResponseError::InvalidPartitions,
                    format!("Number of partitions was set to an invalid non-positive value: {n}."),
                ));
            }
        };
        if replication_factor != -1 && replication_factor != 1 {
            return Err(ApiError::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target \
                     replication factor of {replication_factor} cannot be reached because only 1 \
                     broker(s) are registered."
                ),
            ));
        }
        let topic_config = TopicConfig::new(configs, &self.config)
            .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
        let _meta = self.lock_meta();
        if self.topic(name).is_some() {
            return Err(ApiError::new(
                ResponseError::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        let id = Uuid::new_v4();
        if validate_only {
            return Ok(Arc::new(Topic {
                name: name.to_string(),
                id,
                config: topic_config,
                partitions: Vec::new(),
            }));
        }
        let storage_err =
            |e: BrokerError| ApiError::new(ResponseError::KafkaStorageError, e.to_string());
        let topic = open_topic(
            &self.config.data_dir,
            name.to_string(),
            id,
            partitions,
            topic_config,
            &self.data_ready,
        )
        .map_err(storage_err)?;
        let topic = Arc::new(topic);
        let mut all = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        all.insert(name.to_string(), Arc::clone(&topic));
        let persisted = self.persist(&all);
        if let Err(e) = persisted {
            all.remove(name);
            return Err(storage_err(e.into()));
        }
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic: it disappears at once; its files are removed in the background.
    pub fn delete_topic(&self, name: &str) -> Result<Uuid, ApiError> {
        let _meta = self.lock_meta();
        let mut all = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        let Some(topic) = all.remove(name) else {
            return Err(ApiError::new(
                ResponseError::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            ));
        };
        if let Err(e) = self.persist(&all) {
            all.insert(name.to_string(), Arc::clone(&topic));
            return Err(ApiError::new(
                ResponseError::KafkaStorageError,
                e.to_string(),
            ));
        }
        drop(all);
        let dir = self.config.data_dir.clone();
        let id = topic.id;
        let count = topic.partitions.len();
        drop(topic);
        // Rename now (so a new topic of the same name starts clean), remove later.
        for p in 0..count {
            let from = dir.join(format!("{name}-{p}"));
            let to = dir.join(format!("{name}-{p}.{}{DELETE_SUFFIX}", id.simple()));
            if let Err(e) = fs::rename(&from, &to) {
                tracing::warn!(path = %from.display(), error = %e, "cannot move a deleted partition aside");
            }
        }
        std::thread::spawn(move || remove_deleted_leftovers(&dir));
        tracing::info!(topic = name, "deleted topic");
        Ok(id)
    }

    /// Serializes changes to the topic set and their persistence.
    fn lock_meta(&self) -> std::sync::MutexGuard<'_, ()> {
        self.meta_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The topic named `name`, or Kafka's error for a missing topic.
    pub fn existing_topic(&self, name: &str) -> Result<Arc<Topic>, ApiError> {
        self.topic(name).ok_or_else(|| {
            ApiError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            )
        })
    }

    /// Raises a topic's partition count to `count` (CreatePartitions).
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let _meta = self.lock_meta();
        let topic = self.existing_topic(name)?;
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err(ApiError::new(
                ResponseError::InvalidPartitions,
                format!(
                    "Topic currently has {current} partitions, which is higher than the requested {count}."
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        for index in current..count {
            let dir = self.config.data_dir.join(format!("{name}-{index}"));
            let (log, _) = PartitionLog::open(&dir, topic.config.partition.clone())
                .map_err(|e| ApiError::new(ResponseError::KafkaStorageError, e.to_string()))?;
            partitions.push(Arc::new(Partition::new(
                name,
                index,
                log,
                Arc::clone(&self.data_ready),
            )));
        }
        self.replace_topic(Topic {
            name: topic.name.clone(),
            id: topic.id,
            config: topic.config.clone(),
            partitions,
        })
    }

    /// Changes a topic's configuration: with `replace` (AlterConfigs) the keys set become
    /// exactly `set`; otherwise (IncrementalAlterConfigs) `set` keys are set and `delete`
    /// keys return to their defaults. The result is validated as a whole.
    pub fn alter_topic_config(
        &self,
        name: &str,
        set: BTreeMap<String, String>,
        delete: &[String],
        replace: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let _meta = self.lock_meta();
        let topic = self.existing_topic(name)?;
        let mut overrides = if replace {
            BTreeMap::new()
        } else {
            topic.config.overrides().clone()
        };
        for key in delete {
            overrides.remove(key);
        }
        overrides.extend(set);
        let config = TopicConfig::new(overrides, &self.config)
            .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
        if validate_only {
            return Ok(());
        }
        for p in &topic.partitions {
            p.set_config(config.partition.clone());
        }
        self.replace_topic(Topic {
            name: topic.name.clone(),
            id: topic.id,
            config,
            partitions: topic.partitions.clone(),
        })
    }

    /// Swaps in a changed topic and persists the topic set (caller holds `meta_lock`).
    fn replace_topic(&self, topic: Topic) -> Result<(), ApiError> {
        let mut all = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        let old = all.insert(topic.name.clone(), Arc::new(topic));
        if let Err(e) = self.persist(&all) {
            if let Some((name, old)) = old.map(|o| (o.name.clone(), o)) {
                all.insert(name, old);
            }
            return Err(ApiError::new(
                ResponseError::KafkaStorageError,
                e.to_string(),
            ));
        }
        Ok(())
    }

    fn persist(&self, topics: &BTreeMap<String, Arc<Topic>>) -> Result<(), LogError> {
        let file = TopicsFile {
            version: 1,
            topics: topics
                .values()
                .map(|t| TopicRecord {
                    name: t.name.clone(),
                    id: t.id,
                    partitions: t.partitions.len() as i32,
                    configs: t.config.overrides().clone(),
                })
                .collect(),
        };
        let path = self.config.data_dir.join(META_DIR).join(TOPICS_FILE);
        let raw = serde_json::to_vec_pretty(&file).map_err(|e| LogError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &raw)
    }

    /// Fsyncs and closes every partition (at shutdown).
    pub fn close(&self) -> Result<(), LogError> {
        for topic in self.topics() {
            for p in &topic.partitions {
                p.close_blocking()?;
            }
        }
        Ok(())
    }
}

fn open_topic(
    data_dir: &Path,
    name: String,
    id: Uuid,
    partitions: i32,
    config: TopicConfig,
    data_ready: &Arc<Notify>,
) -> Result<Topic, BrokerError> {
    let mut parts = Vec::with_capacity(partitions.max(0) as usize);
    for index in 0..partitions {
        let dir = data_dir.join(format!("{name}-{index}"));
        let (log, report) = PartitionLog::open(&dir, config.partition.clone())?;
        if report.truncated_bytes > 0 {
            tracing::warn!(topic = %name, partition = index, bytes = report.truncated_bytes,
                "recovered partition: cut a torn tail");
        }
        parts.push(Arc::new(Partition::new(
            &name,
            index,
            log,
            Arc::clone(data_ready),
        )));
    }
    Ok(Topic {
        name,
        id,
        config,
        partitions: parts,
    })
}

/// Removes partition directories of deleted topics (`<topic>-<p>.<id>-delete`).
fn remove_deleted_leftovers(dir: &PathBuf) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir()
            && path.to_string_lossy().ends_with(DELETE_SUFFIX)
            && let Err(e) = fs::remove_dir_all(&path)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a deleted partition");
        }
    }
}
