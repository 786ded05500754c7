//! One running JDBC source task: opens the database, finds its tables (again every
//! `table.poll.interval.ms`), and polls them in turn, each at most every `poll.interval.ms`
//! unless its last query left rows behind.

use culvert_connector_sdk::sql::Connection;
use culvert_connector_sdk::{Config, PluginError, Position, SourceBatch, SourceBatchBuilder};

use crate::querier::{Querier, Source};
use crate::settings::{Settings, TASK_COUNT, TASK_INDEX, TASK_TABLES, now_ms};
use crate::tables::{self, TableId};

/// Which tables this task owns.
#[derive(Debug)]
enum Share {
    /// The configured query (task 0 only).
    Query(String),
    /// Tables matching these include-list entries.
    Listed(Vec<String>),
    /// Every discovered table whose hash falls to this task.
    Hashed { index: u32, count: u32 },
}

/// A running task.
#[derive(Debug)]
pub struct JdbcSourceTask {
    settings: Settings,
    share: Share,
    db: Option<Connection>,
    queriers: Vec<Querier>,
    committed: Vec<Position>,
    next_discovery_ms: i64,
    /// Where the round-robin over tables resumes.
    cursor: usize,
}

fn config_error(issues: Vec<culvert_connector_sdk::ConfigIssue>) -> PluginError {
    PluginError::Fatal(culvert_connector_sdk::describe_issues(&issues))
}

impl culvert_connector_sdk::SourceTask for JdbcSourceTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        let settings = Settings::parse(&cfg).map_err(config_error)?;
        let share = if let Some(query) = settings.query.clone() {
            Share::Query(query)
        } else if let Some(listed) = cfg.get(TASK_TABLES) {
            Share::Listed(serde_json::from_str(listed).map_err(|e| {
                PluginError::Fatal(format!("{TASK_TABLES} is not a JSON list of names: {e}"))
            })?)
        } else {
            let index = cfg
                .parse::<u32>(TASK_INDEX)
                .map_err(|i| config_error(vec![i]))?;
            let count = cfg
                .parse::<u32>(TASK_COUNT)
                .map_err(|i| config_error(vec![i]))?;
            Share::Hashed {
                index: index.unwrap_or(0),
                count: count.unwrap_or(1).max(1),
            }
        };
        Ok(Self {
            settings,
            share,
            db: None,
            queriers: Vec::new(),
            committed: Vec::new(),
            next_discovery_ms: 0,
            cursor: 0,
        })
    }

    fn start(&mut self, committed: Vec<Position>) -> Result<(), PluginError> {
        self.committed = committed;
        if let Share::Query(query) = &self.share {
            self.queriers.push(Querier::new(
                Source::Query(query.clone()),
                &self.settings,
                &self.committed,
            ));
        }
        Ok(())
    }

    fn poll(&mut self, max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        let max = max_records.max(1) as usize;
        let mut batch = SourceBatchBuilder::new();
        if let Some(q) = self.queriers.iter_mut().find(|q| q.has_pending()) {
            q.drain_into(&mut batch, max)?;
            return Ok(Some(batch.build()));
        }
        let now = now_ms();
        let result = self.poll_due(now, &mut batch, max);
        if let Err(PluginError::Retriable(_)) = &result {
            // The connection may be broken: take a fresh one next time.
            self.db = None;
        }
        result?;
        Ok((!batch.is_empty()).then(|| batch.build()))
    }

    fn stop(&mut self) {
        self.db = None;
    }
}

impl JdbcSourceTask {
    fn connection(&mut self) -> Result<&Connection, PluginError> {
        if self.db.is_none() {
            let s = &self.settings;
            let db = Connection::open_as(&s.url, s.user.as_deref(), s.password.as_deref())
                .map_err(|e| {
                    let message = format!("opening {}: {}", redacted(&s.url), e.message());
                    if e.is_retriable() {
                        PluginError::Retriable(message)
                    } else {
                        PluginError::Fatal(message)
                    }
                })?;
            self.db = Some(db);
        }
        self.db
            .as_ref()
            .ok_or_else(|| PluginError::Fatal("no database connection".into()))
    }

    /// Rediscovers tables when due, then queries the next table whose turn it is.
    fn poll_due(
        &mut self,
        now: i64,
        batch: &mut SourceBatchBuilder,
        max: usize,
    ) -> Result<(), PluginError> {
        if !matches!(self.share, Share::Query(_)) && now >= self.next_discovery_ms {
            self.discover()?;
            self.next_discovery_ms = now + self.settings.table_poll_interval_ms as i64;
        }
        let n = self.queriers.len();
        for step in 0..n {
            let i = (self.cursor + step) % n;
            if self.queriers[i].next_poll_ms > now {
                continue;
            }
            self.cursor = (i + 1) % n;
            self.connection()?;
            let (db, querier) = match (&self.db, self.queriers.get_mut(i)) {
                (Some(db), Some(q)) => (db, q),
                _ => return Ok(()),
            };
            let more = querier.query(db, &self.settings)?;
            querier.next_poll_ms = if more {
                now
            } else {
                now + self.settings.poll_interval_ms as i64
            };
            querier.drain_into(batch, max)?;
            if !batch.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Lists the database's tables and keeps a querier for each one this task owns.
    fn discover(&mut self) -> Result<(), PluginError> {
        let settings = self.settings.clone();
        let db = self.connection()?;
        let found = tables::discover(db, settings.schema_pattern.as_deref())
            .map_err(PluginError::Retriable)?;
        let mine: Vec<TableId> = match &self.share {
            Share::Listed(entries) => tables::select(found, entries, &[]),
            Share::Hashed { index, count } => {
                tables::select(found, &settings.include, &settings.exclude)
                    .into_iter()
                    .filter(|t| tables::owned_by(t, *index, *count))
                    .collect()
            }
            Share::Query(_) => Vec::new(),
        };
        if let Share::Listed(entries) = &self.share {
            let missing: Vec<&String> = entries
                .iter()
                .filter(|e| !mine.iter().any(|t| t.matches(e)))
                .collect();
            if !missing.is_empty() {
                culvert_connector_sdk::log::warn(
                    "listed tables not found in the database",
                    &[("tables", &format!("{missing:?}"))],
                );
            }
        }
        self.queriers
            .retain(|q| matches!(q.source(), Source::Table(t) if mine.contains(t)));
        for table in mine {
            let known = self
                .queriers
                .iter()
                .any(|q| matches!(q.source(), Source::Table(t) if *t == table));
            if !known {
                self.queriers.push(Querier::new(
                    Source::Table(table),
                    &self.settings,
                    &self.committed,
                ));
            }
        }
        Ok(())
    }
}

/// `url` without a password, for messages.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once("password=") {
        Some((head, rest)) => {
            let after = rest.find('&').map_or("", |i| &rest[i..]);
            format!("{head}password=***{after}")
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}
