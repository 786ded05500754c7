//! Glue between the generated WIT exports and the SDK traits; used by
//! [`export_source_connector!`](crate::export_source_connector). Not a public API.

use std::cell::RefCell;

use crate::bindings::exports::culvert::connector::source::GuestSourceTask;
use crate::{Config, Connector, PluginError, Position, SourceBatch, SourceTask};

/// `connector.validate` for `C`.
pub fn validate<C: Connector>(cfg: Vec<(String, String)>) -> Vec<crate::ConfigIssue> {
    C::validate(&Config::new(cfg))
}

/// `connector.task-configs` for `C`.
pub fn task_configs<C: Connector>(
    cfg: Vec<(String, String)>,
    max_tasks: u32,
) -> Result<Vec<Vec<(String, String)>>, String> {
    let configs = C::task_configs(&Config::new(cfg), max_tasks)?;
    Ok(configs.into_iter().map(Config::into_pairs).collect())
}

enum TaskState<T> {
    Ready(T),
    /// `new` failed; `start` reports the error.
    Broken(PluginError),
    Stopped,
}

/// The exported `source-task` resource wrapping a user's [`SourceTask`].
pub struct SourceTaskAdapter<T: SourceTask> {
    state: RefCell<TaskState<T>>,
}

impl<T: SourceTask> SourceTaskAdapter<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> Result<R, PluginError>) -> Result<R, PluginError> {
        match &mut *self.state.borrow_mut() {
            TaskState::Ready(task) => f(task),
            TaskState::Broken(err) => Err(err.clone()),
            TaskState::Stopped => Err(PluginError::Fatal("the task was stopped".to_string())),
        }
    }
}

impl<T: SourceTask> GuestSourceTask for SourceTaskAdapter<T> {
    fn new(cfg: Vec<(String, String)>) -> Self {
        let state = match T::new(Config::new(cfg)) {
            Ok(task) => TaskState::Ready(task),
            Err(err) => TaskState::Broken(err),
        };
        Self {
            state: RefCell::new(state),
        }
    }

    fn start(&self, committed: Vec<Position>) -> Result<(), PluginError> {
        self.with(|t| t.start(committed))
    }

    fn poll(&self, max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        self.with(|t| t.poll(max_records))
    }

    fn committed(&self, positions: Vec<Position>) -> Result<(), PluginError> {
        self.with(|t| t.committed(positions))
    }

    fn stop(&self) {
        let mut state = self.state.borrow_mut();
        if let TaskState::Ready(task) = &mut *state {
            task.stop();
        }
        *state = TaskState::Stopped;
    }
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

        impl $crate::bindings::exports::culvert::connector::connector::Guest for __CulvertExports {
            fn spec() -> $crate::PluginSpec {
                <$connector as $crate::Connector>::spec()
            }
            fn validate(cfg: ::std::vec::Vec<(::std::string::String, ::std::string::String)>)
                -> ::std::vec::Vec<$crate::ConfigIssue> {
                $crate::export::validate::<$connector>(cfg)
            }
            fn task_configs(
                cfg: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                max_tasks: u32,
            ) -> ::std::result::Result<
                ::std::vec::Vec<::std::vec::Vec<(::std::string::String, ::std::string::String)>>,
                ::std::string::String,
            > {
                $crate::export::task_configs::<$connector>(cfg, max_tasks)
            }
        }

        impl $crate::bindings::exports::culvert::connector::source::Guest for __CulvertExports {
            type SourceTask = $crate::export::SourceTaskAdapter<
                <$connector as $crate::SourceConnector>::Task,
            >;
        }

        $crate::bindings::export!(__CulvertExports with_types_in $crate::bindings);
    };
}
