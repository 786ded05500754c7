//! `object-probe`: a source that runs a script of object-store operations through the
//! host's `object-store` capability, for the host's tests.
//!
//! Config: `endpoint` (none means AWS), `region`, `access.key` and `secret.key`, and `ops`,
//! a `;`-separated script run at the first poll — `put:<bucket>/<key>:<text>`,
//! `get:<bucket>/<key>`, `range:<bucket>/<key>:<offset>:<length>`, `head:<bucket>/<key>`,
//! `delete:<bucket>/<key>`, `list:<bucket>/<prefix>:<delimiter>:<max-keys>` (all pages),
//! `upload:<bucket>/<key>:<bytes>` (written in 3 MiB chunks of a repeating pattern, then
//! completed), `upload-drop:<bucket>/<key>:<bytes>` (written, then dropped unfinished),
//! `size:<bucket>/<key>` (reads it whole and reports length and a checksum). Each op emits
//! one record `op => result`; failures render as `error: <message>` and the script goes on.

use culvert_connector_sdk::object_store::{Store, StoreError, StoreOptions};
use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, Plugin, PluginError, PluginSpec, Position,
    SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
};

/// The connector half.
pub struct ObjectProbe;

impl Plugin for ObjectProbe {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "object-probe".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test guest that runs object-store operations through the host"
                .to_string(),
            config_def: vec![
                ConfigKeyBuilder::new("ops", ConfigType::String, "The script.")
                    .required()
                    .build(),
            ],
        }
    }
}

impl Connector for ObjectProbe {
    fn task_configs(cfg: &Config, _max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok(vec![cfg.clone()])
    }
}

impl SourceConnector for ObjectProbe {
    type Task = ProbeTask;
}

/// One task.
pub struct ProbeTask {
    cfg: Config,
    done: bool,
}

fn pattern(len: usize, offset: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn split_path(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or((path, ""))
}

fn run_op(store: &Store, op: &str) -> Result<String, StoreError> {
    let mut parts = op.splitn(2, ':');
    let verb = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    let args: Vec<&str> = rest.split(':').collect();
    let (bucket, key) = split_path(args.first().copied().unwrap_or_default());
    let num = |i: usize| -> u64 { args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0) };
    Ok(match verb {
        "put" => {
            let text = rest.split_once(':').map(|(_, t)| t).unwrap_or_default();
            let etag = store.put(bucket, key, text.as_bytes(), Some("text/plain"))?;
            format!("etag {}", !etag.is_empty())
        }
        "get" => String::from_utf8_lossy(&store.get(bucket, key)?).into_owned(),
        "range" => {
            String::from_utf8_lossy(&store.get_range(bucket, key, num(1), num(2))?).into_owned()
        }
        "head" => {
            let info = store.head(bucket, key)?;
            format!(
                "{} {} etag={} modified={}",
                info.key,
                info.size,
                info.etag.is_some(),
                info.last_modified_ms.is_some_and(|m| m > 0)
            )
        }
        "delete" => {
            store.delete(bucket, key)?;
            "deleted".to_string()
        }
        "list" => {
            let delimiter = args.get(1).filter(|d| !d.is_empty()).map(|d| d.to_string());
            let max = u32::try_from(num(2)).unwrap_or(1000);
            let mut token: Option<String> = None;
            let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
            loop {
                let page =
                    store.list_objects(bucket, key, delimiter.as_deref(), token.as_deref(), max)?;
                pages += 1;
                keys.extend(
                    page.objects
                        .iter()
                        .map(|o| format!("{}({})", o.key, o.size)),
                );
                prefixes.extend(page.prefixes);
                match page.next_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            format!(
                "pages={pages} keys=[{}] prefixes=[{}]",
                keys.join(","),
                prefixes.join(",")
            )
        }
        "upload" | "upload-drop" => {
            let total = usize::try_from(num(1)).unwrap_or(0);
            let upload = store.start_upload(bucket, key, None)?;
            let mut written = 0;
            while written < total {
                let n = (3 << 20).min(total - written);
                upload.write(&pattern(n, written))?;
                written += n;
            }
            if verb == "upload-drop" {
                drop(upload);
                "dropped".to_string()
            } else {
                format!("etag {}", !upload.complete()?.is_empty())
            }
        }
        "size" => {
            let bytes = store.get(bucket, key)?;
            format!(
                "{} bytes, pattern {}",
                bytes.len(),
                checksum(&bytes) == checksum(&pattern(bytes.len(), 0))
            )
        }
        other => format!("unknown op {other}"),
    })
}

impl SourceTask for ProbeTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self { cfg, done: false })
    }

    fn start(&mut self, _committed: Vec<Position>) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(&mut self, _max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let mut options = match self.cfg.get("endpoint") {
            Some(e) => StoreOptions::s3_compatible(e),
            None => StoreOptions::aws("us-east-1"),
        };
        if let Some(region) = self.cfg.get("region") {
            options = options.with_region(region);
        }
        if let (Some(ak), Some(sk)) = (self.cfg.get("access.key"), self.cfg.get("secret.key")) {
            options = options.with_credentials(ak, sk);
        }
        let mut batch = SourceBatchBuilder::new();
        let mut emit = |line: String| {
            batch
                .push("ops", None, Some(line.as_bytes()), &[], None)
                .map_err(PluginError::Fatal)
        };
        match Store::open(&options) {
            Err(e) => emit(format!("open => error: {}", e.message()))?,
            Ok(store) => {
                for op in self.cfg.get("ops").unwrap_or_default().split(';') {
                    let result =
                        run_op(&store, op).unwrap_or_else(|e| format!("error: {}", e.message()));
                    emit(format!("{op} => {result}"))?;
                }
            }
        }
        Ok(Some(batch.build()))
    }
}

culvert_connector_sdk::export_source_connector!(ObjectProbe);
