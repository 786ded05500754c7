//! A running plugin instance: its store, the generated instance, and the bookkeeping every
//! task kind shares — arming the call deadline, turning traps into errors, and refusing to
//! enter an instance that trapped before.

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::bindings::culvert::connector::types::PluginError;
use crate::error::HostError;
use crate::grants::Grants;
use crate::plugin::{Instance, Plugin};
use crate::state::StoreState;

/// Why a task call failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The plugin reported a transient failure; the same call may be retried.
    #[error("retriable error from the plugin: {0}")]
    Retriable(String),
    /// The plugin reported that the task cannot continue.
    #[error("fatal error from the plugin: {0}")]
    Fatal(String),
    /// The instance trapped, hit a limit, broke the contract or could not be created; it is
    /// unusable and its store has been dropped.
    #[error(transparent)]
    Host(#[from] HostError),
}

impl From<PluginError> for TaskError {
    fn from(err: PluginError) -> Self {
        match err {
            PluginError::Retriable(msg) => TaskError::Retriable(msg),
            PluginError::Fatal(msg) => TaskError::Fatal(msg),
        }
    }
}

/// One instance of `I` (a generated world type) in its own store.
pub(crate) struct Session<I> {
    pub(crate) plugin: Plugin,
    pub(crate) store: Store<StoreState>,
    pub(crate) instance: I,
    /// Set once a call trapped: the instance must not be entered again.
    poisoned: bool,
}

impl<I> std::fmt::Debug for Session<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("plugin", &self.plugin.name())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl<I> Session<I> {
    /// Instantiates `plugin` in a fresh store for `connector` (and `task`) with `grants`, as
    /// part of `call`; `pick` takes the world instance out, or the plugin is not the `wanted`
    /// kind.
    pub(crate) async fn open(
        plugin: &Plugin,
        (connector, task, grants): (&str, Option<u32>, &Grants),
        call: &'static str,
        wanted: &'static str,
        pick: fn(Instance) -> Option<I>,
    ) -> Result<Self, HostError> {
        let (store, instance) = plugin.instantiate(connector, task, grants, call).await?;
        let instance = pick(instance).ok_or_else(|| plugin.wrong_kind(wanted))?;
        Ok(Self::new(plugin, store, instance))
    }

    /// Drops a guest resource (a task or transformer) as part of `call`.
    pub(crate) async fn drop_resource(
        &mut self,
        call: &'static str,
        resource: ResourceAny,
    ) -> Result<(), HostError> {
        self.begin(call)?;
        let res = resource.resource_drop_async(&mut self.store).await;
        self.finish(call, res)
    }

    pub(crate) fn new(plugin: &Plugin, store: Store<StoreState>, instance: I) -> Self {
        Self {
            plugin: plugin.clone(),
            store,
            instance,
            poisoned: false,
        }
    }

    pub(crate) fn poisoned(&self) -> bool {
        self.poisoned
    }

    /// Checks the instance may be entered and arms the deadline for `call`.
    pub(crate) fn begin(&mut self, call: &'static str) -> Result<(), HostError> {
        if self.poisoned {
            return Err(HostError::Trap {
                plugin: self.plugin.name().to_string(),
                call,
                reason: "the instance trapped earlier and cannot be entered again".into(),
            });
        }
        self.store.data_mut().begin_call(call);
        Ok(())
    }

    pub(crate) fn contract(&self, call: &'static str, reason: String) -> TaskError {
        HostError::Contract {
            plugin: self.plugin.name().to_string(),
            call,
            reason,
        }
        .into()
    }

    /// The outcome of a call that cannot return a plugin error; poisons on a trap.
    pub(crate) fn finish<T>(
        &mut self,
        call: &'static str,
        res: wasmtime::Result<T>,
    ) -> Result<T, HostError> {
        self.store.data_mut().end_call();
        res.map_err(|trap| {
            self.poisoned = true;
            self.plugin.trap(call, &trap)
        })
    }

    /// The outcome of a call returning `result<T, plugin-error>`; poisons on a trap.
    pub(crate) fn settle<T>(
        &mut self,
        call: &'static str,
        res: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, TaskError> {
        Ok(self.finish(call, res)??)
    }
}
