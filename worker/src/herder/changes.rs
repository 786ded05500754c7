//! Configuration changes: create or replace a connector, delete it, pause, resume and stop
//! it. Each change is written to the config topic (and read back) before it returns, one
//! change at a time.

use culvert_plugin_host::Plugin;

use super::validation::{invalid, problems};
use super::{ConnectorInfo, Herder, HerderError};
use crate::config::ConfigProviders;
use crate::stores::{ConfigRecord, Properties, State, Status, StatusKey, TargetState};

impl Herder {
    async fn write_config(&self, record: ConfigRecord) -> Result<(), HerderError> {
        let (key, value) = record.encode();
        self.configs.write(key.as_bytes(), value.as_deref()).await?;
        self.wake_runtime();
        Ok(())
    }

    async fn write_status(
        &self,
        key: StatusKey,
        state: State,
        trace: Option<String>,
    ) -> Result<(), HerderError> {
        // In a cluster the worker running a connector reports RUNNING, PAUSED and STOPPED
        // (the runtime does, after the target state); the leader, which writes the task
        // configs, reports only their failure — and lifts it once they succeed again.
        let mut generation = self.generation;
        if let (Some(view), StatusKey::Connector(name)) = (self.cluster(), &key) {
            let failed = self
                .statuses
                .read()
                .connector(name)
                .is_some_and(|s| s.state == State::Failed);
            let recovered = state == State::Running && failed;
            if state != State::Failed && !recovered {
                return Ok(());
            }
            generation = view.generation;
        }
        let status = Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation,
        };
        self.statuses
            .write(key.encode().as_bytes(), Some(&status.encode()))
            .await?;
        Ok(())
    }

    /// Asks the plugin for task configurations and commits them; a connector that fails
    /// to produce them is marked FAILED with its reason.
    async fn generate_tasks(
        &self,
        name: &str,
        plugin: &Plugin,
        config: &Properties,
    ) -> Result<(), HerderError> {
        let max_tasks = config
            .get("tasks.max")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(1);
        let generated = match self.providers.resolve(config) {
            Err(why) => Err(why),
            Ok(resolved) => {
                let pairs: Vec<(String, String)> = resolved
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                plugin
                    .task_configs(name, &pairs, max_tasks)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r)
                    .map(|tasks| {
                        // Task configurations keep the placeholders, never the secrets.
                        tasks
                            .into_iter()
                            .map(|task| {
                                let mut task: Properties = task.into_iter().collect();
                                ConfigProviders::mask(config, &resolved, &mut task);
                                task
                            })
                            .collect::<Vec<_>>()
                    })
            }
        };
        let tasks = match generated {
            Ok(tasks) if tasks.len() <= max_tasks as usize => tasks,
            Ok(tasks) => {
                let why = format!(
                    "the connector returned {} task configurations, more than tasks.max={max_tasks}",
                    tasks.len()
                );
                return self
                    .write_status(StatusKey::Connector(name.into()), State::Failed, Some(why))
                    .await;
            }
            Err(why) => {
                return self
                    .write_status(StatusKey::Connector(name.into()), State::Failed, Some(why))
                    .await;
            }
        };
        let count = tasks.len() as u32;
        for (i, task) in tasks.into_iter().enumerate() {
            self.write_config(ConfigRecord::Task {
                connector: name.to_string(),
                task: i as u32,
                properties: Some(task),
            })
            .await?;
        }
        self.write_config(ConfigRecord::Commit {
            connector: name.to_string(),
            tasks: count,
        })
        .await?;
        self.write_status(StatusKey::Connector(name.into()), State::Running, None)
            .await
    }

    /// Creates connector `name` (or replaces its configuration unless `must_be_new`);
    /// returns its info and whether it was created.
    pub async fn put_config(
        &self,
        name: &str,
        mut config: Properties,
        initial_state: Option<TargetState>,
        must_be_new: bool,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        let _change = self.change_lock(name).await;
        match config.get("name") {
            Some(given) if given != name => {
                return Err(HerderError::BadRequest(format!(
                    "Connector name configuration ({given}) doesn't match connector name in the \
                     URL ({name})"
                )));
            }
            Some(_) => {}
            None => {
                config.insert("name".into(), name.into());
            }
        }
        let exists = self.configs.read().connector(name).is_some();
        if exists && must_be_new {
            return Err(HerderError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        let (found, plugin) = match self.providers.resolve(&config) {
            Ok(resolved) => problems(&self.registry, self.runtime(), name, &resolved).await?,
            Err(why) => (vec![why], None),
        };
        let class = config.get("connector.class").cloned().unwrap_or_default();
        let plugin = match plugin {
            Some(p) if found.is_empty() => p,
            _ => return Err(invalid(&class, &found)),
        };
        if !exists {
            self.write_config(ConfigRecord::TargetState {
                connector: name.to_string(),
                state: Some(initial_state.unwrap_or(TargetState::Started)),
            })
            .await?;
        }
        self.write_config(ConfigRecord::Connector {
            name: name.to_string(),
            properties: Some(config.clone()),
        })
        .await?;
        let target = self.configs.read().target_state(name);
        match target {
            TargetState::Started => self.generate_tasks(name, plugin, &config).await?,
            TargetState::Paused => {
                self.generate_tasks(name, plugin, &config).await?;
                self.write_status(StatusKey::Connector(name.into()), State::Paused, None)
                    .await?;
            }
            TargetState::Stopped => {
                self.write_config(ConfigRecord::Commit {
                    connector: name.to_string(),
                    tasks: 0,
                })
                .await?;
                self.write_status(StatusKey::Connector(name.into()), State::Stopped, None)
                    .await?;
            }
        }
        Ok((self.info(name)?, !exists))
    }

    /// Deletes a connector: tombstones for its configuration, target state and statuses.
    /// (Its source offsets stay, as in Connect.)
    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        let tasks = self.task_configs(name)?.len() as u32;
        self.write_config(ConfigRecord::Connector {
            name: name.to_string(),
            properties: None,
        })
        .await?;
        self.write_config(ConfigRecord::TargetState {
            connector: name.to_string(),
            state: None,
        })
        .await?;
        let mut keys = vec![StatusKey::Connector(name.into())];
        keys.extend((0..tasks).map(|t| StatusKey::Task(name.into(), t)));
        for key in keys {
            self.statuses.write(key.encode().as_bytes(), None).await?;
        }
        Ok(())
    }

    /// Pauses a connector (idempotent).
    pub async fn pause(&self, name: &str) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        self.target_state(name)?;
        self.write_config(ConfigRecord::TargetState {
            connector: name.to_string(),
            state: Some(TargetState::Paused),
        })
        .await?;
        self.write_status(StatusKey::Connector(name.into()), State::Paused, None)
            .await
    }

    /// Resumes a paused or stopped connector (idempotent); a stopped one gets its task
    /// configurations generated again.
    pub async fn resume(&self, name: &str) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        let previous = self.target_state(name)?;
        self.write_config(ConfigRecord::TargetState {
            connector: name.to_string(),
            state: Some(TargetState::Started),
        })
        .await?;
        let config = self.config(name)?;
        let plugin = self.plugin_of(&config)?;
        if previous == TargetState::Stopped {
            self.generate_tasks(name, plugin, &config).await
        } else {
            self.write_status(StatusKey::Connector(name.into()), State::Running, None)
                .await
        }
    }

    /// Stops a connector (idempotent): an empty task set is committed first, then the
    /// target state STOPPED, as Connect does.
    pub async fn stop(&self, name: &str) -> Result<(), HerderError> {
        let _change = self.change_lock(name).await;
        self.target_state(name)?;
        self.write_config(ConfigRecord::Commit {
            connector: name.to_string(),
            tasks: 0,
        })
        .await?;
        self.write_config(ConfigRecord::TargetState {
            connector: name.to_string(),
            state: Some(TargetState::Stopped),
        })
        .await?;
        self.write_status(StatusKey::Connector(name.into()), State::Stopped, None)
            .await
    }

    /// Restarts a connector (`POST /connectors/{name}/restart`). Without `include_tasks`
    /// and `only_failed` only the connector is restarted and `None` is returned (Connect's
    /// 204); otherwise the status is returned with every selected instance RESTARTING
    /// (Connect's 202). Restarting the connector asks the plugin for its task
    /// configurations again; the selected tasks are restarted by the runtime.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<super::ConnectorStatus>, HerderError> {
        let _change = self.change_lock(name).await;
        let target = self.target_state(name)?;
        let mut status = self.status(name)?;
        let restart_connector = !only_failed || status.connector.state == State::Failed;
        if restart_connector && target == TargetState::Started {
            let config = self.config(name)?;
            let plugin = self.plugin_of(&config)?;
            self.generate_tasks(name, plugin, &config).await?;
        }
        if !include_tasks && !only_failed {
            return Ok(None);
        }
        if restart_connector {
            status.connector.state = State::Restarting;
        }
        let mut picked = Vec::new();
        if include_tasks {
            for (id, task) in &mut status.tasks {
                if !only_failed || task.state == State::Failed {
                    task.state = State::Restarting;
                    picked.push(*id);
                }
            }
        }
        if let Some(runtime) = &self.runtime
            && !picked.is_empty()
        {
            let runtime = runtime.clone();
            let name = name.to_string();
            // Connect answers 202 at once; the tasks restart behind it.
            tokio::spawn(async move { runtime.restart(&name, |t| picked.contains(&t)).await });
        }
        Ok(Some(status))
    }

    /// Restarts one task (`POST /connectors/{name}/tasks/{task}/restart`): a fresh instance
    /// starts once the old one stopped.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError> {
        let tasks = self.task_configs(name)?;
        if task as usize >= tasks.len() {
            return Err(HerderError::NotFound(format!(
                "Unknown task: {name}-{task}"
            )));
        }
        if let Some(runtime) = &self.runtime {
            runtime.restart(name, |t| t == task).await;
        }
        Ok(())
    }

    /// Stores a cluster-wide log level (`logger-cluster-<namespace>`).
    pub async fn set_cluster_log_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<(), HerderError> {
        self.write_config(ConfigRecord::LoggerLevel {
            namespace: namespace.to_string(),
            level: level.to_string(),
        })
        .await
    }
}
