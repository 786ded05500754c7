//! Running one configured WASM transform: a `transformer` resource applied batch by batch.

use wasmtime::component::ResourceAny;

use crate::batch::{Record, Records, RecordsBuilder};
use crate::bindings::transform::Transform;
use crate::bindings::transform::exports::culvert::connector::transformation as wit;
use crate::grants::Grants;
use crate::instance::{Session, TaskError};
use crate::plugin::{Instance, Plugin};
use crate::sink::{RecordFailure, check_failures};

/// What one `apply` produced, validated.
#[derive(Debug)]
pub struct TransformOutput {
    /// The output records.
    pub records: Records,
    /// Per output record, the index of the input record it came from (non-decreasing).
    pub origins: Vec<usize>,
    /// Input records the transform failed on.
    pub failures: Vec<RecordFailure>,
}

/// One transform instance in its own store.
#[derive(Debug)]
pub struct TransformInstance {
    session: Session<Transform>,
    transformer: ResourceAny,
}

impl TransformInstance {
    /// Instantiates `plugin` for `connector` and creates the transformer with `config` (the
    /// keys of `transforms.<alias>.*` without that prefix).
    pub async fn new(
        plugin: &Plugin,
        connector: &str,
        config: &[(String, String)],
    ) -> Result<Self, TaskError> {
        // Transforms get no capabilities: they only see the records they are given.
        let who = (connector, None, &Grants::none());
        let mut session =
            Session::open(plugin, who, "transformer", "transformation", |i| match i {
                Instance::Transform(t) => Some(t),
                _ => None,
            })
            .await?;
        session.begin("transformer constructor")?;
        let res = session
            .instance
            .culvert_connector_transformation()
            .transformer()
            .call_constructor(&mut session.store, &config.to_vec())
            .await;
        let transformer = session.finish("transformer constructor", res)?;
        Ok(Self {
            session,
            transformer,
        })
    }

    /// Transforms a batch.
    pub async fn apply(&mut self, input: Records) -> Result<TransformOutput, TaskError> {
        let n = input.len();
        let (records, topics, topic_index) = input.into_parts();
        let batch = wit::TransformBatch {
            records,
            topics,
            topic_index,
        };
        let s = &mut self.session;
        s.begin("apply")?;
        let res = s
            .instance
            .culvert_connector_transformation()
            .transformer()
            .call_apply(&mut s.store, self.transformer, &batch)
            .await;
        let out = s.settle("apply", res)?;
        let input = Records::from_parts(batch.records, batch.topics, batch.topic_index);
        let checked = (|| {
            let records =
                Records::validate(out.batch.records, out.batch.topics, out.batch.topic_index)?;
            if out.origins.len() != records.len() || out.reuse.len() != records.len() {
                return Err(format!(
                    "origins and reuse have {} and {} entries for {} output records",
                    out.origins.len(),
                    out.reuse.len(),
                    records.len()
                ));
            }
            let mut prev = 0u32;
            for (i, o) in out.origins.iter().enumerate() {
                if *o < prev || *o as usize >= n {
                    return Err(format!(
                        "output {i} names input {o}: out of order or past the {n} inputs"
                    ));
                }
                prev = *o;
            }
            let mut next = 0u32;
            for k in &out.kept {
                if *k < next || *k as usize >= n {
                    return Err(format!(
                        "kept input {k} is out of order, repeated or past the {n} inputs"
                    ));
                }
                next = k + 1;
            }
            let failures = check_failures(out.failures, n, false)?;
            let batch_origins: Vec<usize> = out.origins.iter().map(|o| *o as usize).collect();
            // With inputs also kept, an unchanged batch is still needed as a batch.
            let whole = out.kept.is_empty();
            let (records, origins) =
                match assemble(&input, records, &batch_origins, &out.reuse, whole)? {
                    // Every input whole, sent back with all parts reused.
                    None => (input, batch_origins),
                    Some(batch) => merge_kept(input, &out.kept, batch, batch_origins)?,
                };
            Ok(TransformOutput {
                records,
                origins,
                failures,
            })
        })();
        checked.map_err(|reason| s.contract("apply", reason))
    }

    /// Frees the transformer and its instance.
    pub async fn close(mut self) -> Result<(), TaskError> {
        let s = &mut self.session;
        if s.poisoned() {
            return Ok(());
        }
        s.drop_resource("close", self.transformer).await?;
        Ok(())
    }
}

const REUSE_KEY: u8 = 1;
const REUSE_VALUE: u8 = 2;
const REUSE_HEADERS: u8 = 4;

/// The output: input by input, the kept record (when kept) followed by the batch records of
/// that origin. When every input is kept and nothing else was sent, the input batch itself
/// is the output (nothing copied).
fn merge_kept(
    input: Records,
    kept: &[u32],
    batch: Records,
    batch_origins: Vec<usize>,
) -> Result<(Records, Vec<usize>), String> {
    if kept.is_empty() {
        return Ok((batch, batch_origins));
    }
    if batch.is_empty() && kept.len() == input.len() {
        // Strictly increasing and below the input's length: every input, in order.
        return Ok((input, (0..kept.len()).collect()));
    }
    let mut builder = RecordsBuilder::new();
    let mut origins = Vec::with_capacity(kept.len() + batch.len());
    let mut changed = batch.iter().zip(batch_origins).peekable();
    let mut kept = kept.iter().map(|k| *k as usize).peekable();
    for i in 0..input.len() {
        if kept.next_if_eq(&i).is_some() {
            let Some(record) = input.get(i) else {
                return Err(format!("kept input {i} is past the input"));
            };
            builder.push_record(&record)?;
            origins.push(i);
        }
        while let Some((record, origin)) = changed.next_if(|(_, o)| *o == i) {
            builder.push_record(&record)?;
            origins.push(origin);
        }
    }
    Ok((builder.build(), origins))
}

/// Builds the batch outputs from what the guest sent and the input parts it reused; `None`
/// when every output is its input unchanged and `may_be_input` (the input batch itself is
/// the output).
fn assemble(
    input: &Records,
    out: Records,
    origins: &[usize],
    reuse: &[u8],
    may_be_input: bool,
) -> Result<Option<Records>, String> {
    let mut any_reuse = false;
    for (i, (r, flags)) in out.iter().zip(reuse).enumerate() {
        if flags & !(REUSE_KEY | REUSE_VALUE | REUSE_HEADERS) != 0 {
            return Err(format!("output {i} has unknown reuse flags {flags:#x}"));
        }
        let stray = (flags & REUSE_KEY != 0 && r.key != Some(&[]))
            || (flags & REUSE_VALUE != 0 && r.value != Some(&[]))
            || (flags & REUSE_HEADERS != 0 && r.has_headers());
        if stray {
            return Err(format!(
                "output {i} reuses a part of its origin but also sends one (or a null)"
            ));
        }
        any_reuse |= *flags != 0;
    }
    if !any_reuse {
        return Ok(Some(out));
    }
    let unchanged = may_be_input
        && out.len() == input.len()
        && origins.iter().enumerate().all(|(i, o)| i == *o)
        && reuse
            .iter()
            .all(|f| *f == REUSE_KEY | REUSE_VALUE | REUSE_HEADERS)
        && out
            .iter()
            .zip(input.iter())
            .all(|(o, i)| o.topic == i.topic && o.timestamp_ms == i.timestamp_ms);
    if unchanged {
        return Ok(None);
    }
    let mut builder = RecordsBuilder::new();
    for ((r, flags), origin) in out.iter().zip(reuse).zip(origins) {
        // Origins were checked against the input's length.
        let Some(from) = input.get(*origin) else {
            return Err(format!("origin {origin} is past the input"));
        };
        let key = if flags & REUSE_KEY != 0 {
            from.key
        } else {
            r.key
        };
        let value = if flags & REUSE_VALUE != 0 {
            from.value
        } else {
            r.value
        };
        let header_block = if flags & REUSE_HEADERS != 0 {
            from.header_block
        } else {
            r.header_block
        };
        builder.push_record(&Record {
            header_block,
            ..Record::new(r.topic, key, value, r.timestamp_ms)
        })?;
    }
    Ok(Some(builder.build()))
}
