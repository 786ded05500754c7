//! Running one configured WASM transform: a `transformer` resource applied batch by batch.

use wasmtime::component::ResourceAny;

use crate::batch::Records;
use crate::bindings::transform::Transform;
use crate::bindings::transform::exports::culvert::connector::transformation as wit;
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
        let (store, instance) = plugin.instantiate(connector, None, "transformer").await?;
        let Instance::Transform(instance) = instance else {
            return Err(plugin.wrong_kind("transformation").into());
        };
        let mut session = Session::new(plugin, store, instance);
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
        let checked = (|| {
            let records =
                Records::validate(out.batch.records, out.batch.topics, out.batch.topic_index)?;
            if out.origins.len() != records.len() {
                return Err(format!(
                    "origins has {} entries for {} output records",
                    out.origins.len(),
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
            let failures = check_failures(out.failures, n)?;
            Ok(TransformOutput {
                records,
                origins: out.origins.into_iter().map(|o| o as usize).collect(),
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
