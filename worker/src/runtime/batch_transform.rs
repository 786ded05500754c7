//! WASM transforms in a connector's chain (`transforms.<alias>.type=wasm:<plugin>`). When
//! the chain has one, the whole chain runs batch by batch: native steps record by record,
//! each WASM step as one call with every record that reached it (and that its predicate
//! lets through; the others pass by it in place). Every output remembers the input record
//! it came from, so failures reach the error handler with the original record and source
//! checkpoints stay in step.

use std::collections::BTreeMap;
use std::sync::Arc;

use culvert_plugin_host::{
    Header, PluginKind, PluginRegistry, Record, RecordsBuilder, TaskError, TransformInstance,
};
use culvert_smt::{Chain, Data, Segment};

/// One record on its way through the chain.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) topic: String,
    pub(super) partition: Option<i32>,
    pub(super) offset: Option<i64>,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Option<Vec<u8>>,
    pub(super) headers: Vec<culvert_smt::Header>,
    pub(super) timestamp_ms: Option<i64>,
    /// Index of the input record it came from.
    pub(super) origin: usize,
}

impl Item {
    /// An input record at index `origin`.
    pub(super) fn of(
        record: &Record<'_>,
        headers: &[Header<'_>],
        at: (Option<i32>, Option<i64>),
        origin: usize,
    ) -> Self {
        Self {
            topic: record.topic.to_string(),
            partition: at.0,
            offset: at.1,
            key: record.key.map(<[u8]>::to_vec),
            value: record.value.map(<[u8]>::to_vec),
            headers: smt_headers(headers),
            timestamp_ms: record.timestamp_ms,
            origin,
        }
    }

    /// The headers, borrowed in the host's form.
    pub(super) fn host_headers(&self) -> Vec<Header<'_>> {
        host_headers(&self.headers)
    }

    /// As the chain's record; data that is not JSON fails (native transforms need JSON),
    /// unless `lenient`, where it becomes a JSON string (enough for predicates).
    fn to_smt(&self, lenient: bool) -> Result<culvert_smt::Record, String> {
        let data = |what: &str, bytes: &Option<Vec<u8>>| -> Result<Option<Data>, String> {
            bytes
                .as_deref()
                .map(|b| match Data::parse(b) {
                    Ok(d) => Ok(d),
                    Err(_) if lenient => Ok(Data {
                        payload: serde_json::Value::String(String::from_utf8_lossy(b).into()),
                        schema: None,
                    }),
                    Err(e) => Err(format!("the {what} cannot be transformed: {e}")),
                })
                .transpose()
        };
        Ok(culvert_smt::Record {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            key: data("key", &self.key)?,
            value: data("value", &self.value)?,
            headers: self.headers.clone(),
            timestamp_ms: self.timestamp_ms,
        })
    }
}

/// Headers owned, as the chain keeps them.
pub(super) fn smt_headers(headers: &[Header<'_>]) -> Vec<culvert_smt::Header> {
    headers
        .iter()
        .map(|h| culvert_smt::Header {
            name: h.name.to_string(),
            value: h.value.map(<[u8]>::to_vec),
        })
        .collect()
}

/// Headers borrowed in the host's form.
pub(super) fn host_headers(headers: &[culvert_smt::Header]) -> Vec<Header<'_>> {
    headers
        .iter()
        .map(|h| Header {
            name: &h.name,
            value: h.value.as_deref(),
        })
        .collect()
}

/// What a batch became: outputs in order, and the inputs (by origin) that failed.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) items: Vec<Item>,
    pub(super) failures: Vec<(usize, String)>,
}

/// A chain with WASM steps, their instances started.
pub(super) struct BatchChain {
    chain: Arc<Chain>,
    /// By step index.
    instances: BTreeMap<usize, TransformInstance>,
}

impl std::fmt::Debug for BatchChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchChain")
            .field("wasm_steps", &self.instances.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The chain's `wasm:` steps, by step index.
fn external_steps(chain: &Chain) -> impl Iterator<Item = (usize, culvert_smt::ExternalStep<'_>)> {
    chain
        .segments()
        .into_iter()
        .filter_map(|segment| match segment {
            Segment::External(i) => chain.external(i).map(|step| (i, step)),
            Segment::Native(_) => None,
        })
}

/// Checks that every `wasm:` step of `chain` names a loaded transform plugin.
pub(crate) fn check_plugins(chain: &Chain, registry: &PluginRegistry) -> Vec<String> {
    let mut problems = Vec::new();
    for (_, step) in external_steps(chain) {
        let key = format!("transforms.{}.type", step.alias);
        match registry.resolve(step.plugin, None) {
            Ok(p) if p.kind() == PluginKind::Transform => {}
            Ok(p) => problems.push(format!(
                "Invalid value wasm:{} for configuration {key}: {} is a {:?} plugin, not a \
                 transform",
                step.plugin,
                step.plugin,
                p.kind()
            )),
            Err(e) => problems.push(format!(
                "Invalid value wasm:{} for configuration {key}: {e}",
                step.plugin
            )),
        }
    }
    problems
}

impl BatchChain {
    /// Starts the chain's WASM transforms; `None` when it has none.
    pub(super) async fn start(
        chain: &Arc<Chain>,
        registry: &PluginRegistry,
        connector: &str,
    ) -> Result<Option<Self>, String> {
        if !chain.has_external() {
            return Ok(None);
        }
        let mut instances = BTreeMap::new();
        for (i, step) in external_steps(chain) {
            let plugin = registry
                .resolve(step.plugin, None)
                .map_err(|e| format!("transform {}: {e}", step.alias))?;
            if plugin.kind() != PluginKind::Transform {
                return Err(format!(
                    "transform {}: {} is not a transform plugin",
                    step.alias, step.plugin
                ));
            }
            let instance = TransformInstance::new(plugin, connector, step.config)
                .await
                .map_err(|e| format!("transform {}: {e}", step.alias))?;
            instances.insert(i, instance);
        }
        Ok(Some(Self {
            chain: Arc::clone(chain),
            instances,
        }))
    }

    /// Runs the chain on `items`. An `Err` (a trap or broken contract in a WASM
    /// transform) fails the task.
    pub(super) async fn apply(&mut self, items: Vec<Item>) -> Result<Applied, String> {
        let mut out = Applied {
            items,
            failures: Vec::new(),
        };
        for segment in self.chain.segments() {
            match segment {
                Segment::Native(range) => self.native(range, &mut out),
                Segment::External(i) => self.external(i, &mut out).await?,
            }
            if out.items.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    fn native(&self, range: std::ops::Range<usize>, out: &mut Applied) {
        let items = std::mem::take(&mut out.items);
        for item in items {
            let origin = item.origin;
            let result = item.to_smt(false).and_then(|r| {
                self.chain
                    .apply_steps(range.clone(), r)
                    .map_err(|e| e.to_string())
            });
            match result {
                Ok(Some(r)) => out.items.push(Item {
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    key: r.key.map(|d| d.to_bytes()),
                    value: r.value.map(|d| d.to_bytes()),
                    headers: r.headers,
                    timestamp_ms: r.timestamp_ms,
                    origin,
                }),
                Ok(None) => {}
                Err(e) => out.failures.push((origin, e)),
            }
        }
    }

    async fn external(&mut self, i: usize, out: &mut Applied) -> Result<(), String> {
        let alias = self.chain.external(i).map_or("", |s| s.alias).to_string();
        let items = std::mem::take(&mut out.items);
        // Which items the step sees (its predicate may let some pass by); records are
        // parsed only when there is a predicate to test.
        let filtered = self.chain.has_predicate(i);
        let mut sent = Vec::new();
        let mut builder = RecordsBuilder::new();
        for (n, item) in items.iter().enumerate() {
            let applies = !filtered
                || item
                    .to_smt(true)
                    .map(|r| self.chain.applies_to(i, &r))
                    .unwrap_or(true);
            if !applies {
                continue;
            }
            let record = Record::new(
                &item.topic,
                item.key.as_deref(),
                item.value.as_deref(),
                item.timestamp_ms,
            );
            builder
                .push(&record, &item.host_headers())
                .map_err(|e| format!("transform {alias}: {e}"))?;
            sent.push(n);
        }
        if sent.is_empty() {
            out.items = items;
            return Ok(());
        }
        let instance = self
            .instances
            .get_mut(&i)
            .ok_or_else(|| format!("transform {alias} was not started"))?;
        let result = instance.apply(builder.build()).await.map_err(|e| match e {
            TaskError::Fatal(why) | TaskError::Retriable(why) => {
                format!("transform {alias}: {why}")
            }
            other => format!("transform {alias}: {other}"),
        })?;
        let mut outputs: BTreeMap<usize, Vec<Item>> = BTreeMap::new();
        for (record, origin) in result.records.iter().zip(&result.origins) {
            let Some(&n) = sent.get(*origin) else {
                continue;
            };
            let source = &items[n];
            outputs.entry(n).or_default().push(Item {
                partition: source.partition,
                offset: source.offset,
                origin: source.origin,
                topic: record.topic.to_string(),
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
                headers: smt_headers(&record.headers()),
                timestamp_ms: record.timestamp_ms,
            });
        }
        for failure in &result.failures {
            if let Some(&n) = sent.get(failure.index) {
                out.failures.push((
                    items[n].origin,
                    format!("transform {alias}: {}", failure.message),
                ));
            }
        }
        let mut sent_iter = sent.iter().peekable();
        for (n, item) in items.into_iter().enumerate() {
            if sent_iter.peek() == Some(&&n) {
                sent_iter.next();
                out.items.extend(outputs.remove(&n).unwrap_or_default());
            } else {
                out.items.push(item);
            }
        }
        Ok(())
    }

    /// Frees the WASM transforms.
    pub(super) async fn close(self) {
        for (_, instance) in self.instances {
            let _ = instance.close().await;
        }
    }
}
