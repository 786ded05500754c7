//! Glue between the generated WIT exports and the SDK traits; used by the export macros
//! ([`export_source_connector!`](crate::export_source_connector),
//! [`export_sink_connector!`](crate::export_sink_connector),
//! [`export_transform!`](crate::export_transform)). Not a public API.

use std::cell::RefCell;

use crate::bindings::sink::exports::culvert::connector::sink::GuestSinkTask;
use crate::bindings::source::exports::culvert::connector::source::GuestSourceTask;
use crate::bindings::transform::exports::culvert::connector::transformation::{
    GuestTransformer, TransformOutput,
};
use crate::{
    Config, ConfigIssue, Connector, PartitionOffset, Plugin, PluginError, Position, RecordFailure,
    SinkBatch, SinkRecords, SinkTask, SourceBatch, SourceTask, TopicPartition, TransformBatch,
    TransformBatchBuilder, TransformRecords, Transformer,
};

type Pairs = Vec<(String, String)>;

/// `plugin.validate` for `P`.
pub fn validate<P: Plugin>(cfg: Pairs) -> Vec<ConfigIssue> {
    P::validate(&Config::new(cfg))
}

/// `connector.task-configs` for `C`.
pub fn task_configs<C: Connector>(cfg: Pairs, max_tasks: u32) -> Result<Vec<Pairs>, String> {
    let configs = C::task_configs(&Config::new(cfg), max_tasks)?;
    Ok(configs.into_iter().map(Config::into_pairs).collect())
}

/// A user's task or transformer, or why it could not be created, or that it was stopped.
enum Slot<T> {
    Ready(T),
    /// `new` failed; the next call reports the error.
    Broken(PluginError),
    Stopped,
}

struct Cell<T>(RefCell<Slot<T>>);

impl<T> Cell<T> {
    fn new(created: Result<T, PluginError>) -> Self {
        Self(RefCell::new(match created {
            Ok(v) => Slot::Ready(v),
            Err(e) => Slot::Broken(e),
        }))
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> Result<R, PluginError>) -> Result<R, PluginError> {
        match &mut *self.0.borrow_mut() {
            Slot::Ready(v) => f(v),
            Slot::Broken(err) => Err(err.clone()),
            Slot::Stopped => Err(PluginError::Fatal("the task was stopped".to_string())),
        }
    }

    fn stop(&self, f: impl FnOnce(&mut T)) {
        let mut slot = self.0.borrow_mut();
        if let Slot::Ready(v) = &mut *slot {
            f(v);
        }
        *slot = Slot::Stopped;
    }
}

/// The exported `source-task` resource wrapping a user's [`SourceTask`].
pub struct SourceTaskAdapter<T: SourceTask>(Cell<T>);

impl<T: SourceTask> GuestSourceTask for SourceTaskAdapter<T> {
    fn new(cfg: Pairs) -> Self {
        Self(Cell::new(T::new(Config::new(cfg))))
    }

    fn start(&self, committed: Vec<Position>) -> Result<(), PluginError> {
        self.0.with(|t| t.start(committed))
    }

    fn poll(&self, max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        self.0.with(|t| t.poll(max_records))
    }

    fn committed(&self, positions: Vec<Position>) -> Result<(), PluginError> {
        self.0.with(|t| t.committed(positions))
    }

    fn stop(&self) {
        self.0.stop(T::stop);
    }
}

/// The exported `sink-task` resource wrapping a user's [`SinkTask`].
pub struct SinkTaskAdapter<T: SinkTask>(Cell<T>);

impl<T: SinkTask> GuestSinkTask for SinkTaskAdapter<T> {
    fn new(cfg: Pairs) -> Self {
        Self(Cell::new(T::new(Config::new(cfg))))
    }

    fn start(&self) -> Result<(), PluginError> {
        self.0.with(T::start)
    }

    fn open(&self, partitions: Vec<TopicPartition>) -> Result<(), PluginError> {
        self.0.with(|t| t.open(partitions))
    }

    fn close(&self, partitions: Vec<TopicPartition>) -> Result<(), PluginError> {
        self.0.with(|t| t.close(partitions))
    }

    fn put(&self, batch: SinkBatch) -> Result<Vec<RecordFailure>, PluginError> {
        let records = SinkRecords::new(&batch)
            .map_err(|e| PluginError::Fatal(format!("the host sent a malformed batch: {e}")))?;
        self.0.with(|t| t.put(records))
    }

    fn flush(&self, current: Vec<PartitionOffset>) -> Result<Vec<PartitionOffset>, PluginError> {
        self.0.with(|t| t.flush(current))
    }

    fn stop(&self) {
        self.0.stop(T::stop);
    }
}

/// The exported `transformer` resource wrapping a user's [`Transformer`].
pub struct TransformerAdapter<T: Transformer>(Cell<T>);

impl<T: Transformer> GuestTransformer for TransformerAdapter<T> {
    fn new(cfg: Pairs) -> Self {
        Self(Cell::new(T::new(Config::new(cfg))))
    }

    fn apply(&self, batch: TransformBatch) -> Result<TransformOutput, PluginError> {
        let records = TransformRecords::new(&batch)
            .map_err(|e| PluginError::Fatal(format!("the host sent a malformed batch: {e}")))?;
        let mut out = TransformBatchBuilder::with_capacity(records.len());
        let failures = self.0.with(|t| t.apply(records, &mut out))?;
        let (kept, batch, origins, reuse) = out.build();
        Ok(TransformOutput {
            kept,
            batch,
            origins,
            reuse,
            failures,
        })
    }
}

/// Implements world module `$world`'s world-level exports (`spec`, `validate` and, with
/// `connector`, `task-configs`) for `$exports` by delegating to `$ty`.
#[doc(hidden)]
#[macro_export]
macro_rules! __culvert_world_guest {
    ($world:ident, $exports:ident, $ty:ty) => {
        impl $crate::bindings::$world::Guest for $exports {
            $crate::__culvert_world_guest!(@plugin $ty);
        }
    };
    ($world:ident, $exports:ident, $ty:ty, connector) => {
        impl $crate::bindings::$world::Guest for $exports {
            $crate::__culvert_world_guest!(@plugin $ty);
            fn task_configs(
                cfg: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                max_tasks: u32,
            ) -> ::std::result::Result<
                ::std::vec::Vec<::std::vec::Vec<(::std::string::String, ::std::string::String)>>,
                ::std::string::String,
            > {
                $crate::export::task_configs::<$ty>(cfg, max_tasks)
            }
        }
    };
    (@plugin $ty:ty) => {
        fn spec() -> $crate::PluginSpec {
            <$ty as $crate::Plugin>::spec()
        }
        fn validate(
            cfg: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
        ) -> ::std::vec::Vec<$crate::ConfigIssue> {
            $crate::export::validate::<$ty>(cfg)
        }
    };
}

/// Exports a [`SourceConnector`](crate::SourceConnector) as the component's
/// `source-connector` world. Use once per crate:
///
/// ```ignore
/// culvert_connector_sdk::export_source_connector!(MyConnector);
/// ```
#[macro_export]
macro_rules! export_source_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        pub struct __CulvertExports;

        $crate::__culvert_world_guest!(source, __CulvertExports, $connector, connector);

        impl $crate::bindings::source::exports::culvert::connector::source::Guest
            for __CulvertExports
        {
            type SourceTask = $crate::export::SourceTaskAdapter<
                <$connector as $crate::SourceConnector>::Task,
            >;
        }

        // Only a wasm build exports the world: a native build of the crate (for its tests)
        // must not define export symbols whose names native linkers cannot take.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::source::export_source_world!(
            __CulvertExports with_types_in $crate::bindings::source
        );
    };
}

/// Exports a [`SinkConnector`](crate::SinkConnector) as the component's `sink-connector`
/// world. Use once per crate:
///
/// ```ignore
/// culvert_connector_sdk::export_sink_connector!(MyConnector);
/// ```
#[macro_export]
macro_rules! export_sink_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        pub struct __CulvertExports;

        $crate::__culvert_world_guest!(sink, __CulvertExports, $connector, connector);

        impl $crate::bindings::sink::exports::culvert::connector::sink::Guest
            for __CulvertExports
        {
            type SinkTask =
                $crate::export::SinkTaskAdapter<<$connector as $crate::SinkConnector>::Task>;
        }

        // Only a wasm build exports the world: a native build of the crate (for its tests)
        // must not define export symbols whose names native linkers cannot take.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::sink::export_sink_world!(
            __CulvertExports with_types_in $crate::bindings::sink
        );
    };
}

/// Exports a [`Transform`](crate::Transform) as the component's `transform` world. Use once
/// per crate:
///
/// ```ignore
/// culvert_connector_sdk::export_transform!(MyTransform);
/// ```
#[macro_export]
macro_rules! export_transform {
    ($transform:ty) => {
        #[doc(hidden)]
        pub struct __CulvertExports;

        $crate::__culvert_world_guest!(transform, __CulvertExports, $transform);

        impl $crate::bindings::transform::exports::culvert::connector::transformation::Guest
            for __CulvertExports
        {
            type Transformer = $crate::export::TransformerAdapter<
                <$transform as $crate::Transform>::Instance,
            >;
        }

        // Only a wasm build exports the world: a native build of the crate (for its tests)
        // must not define export symbols whose names native linkers cannot take.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::transform::export_transform_world!(
            __CulvertExports with_types_in $crate::bindings::transform
        );
    };
}
