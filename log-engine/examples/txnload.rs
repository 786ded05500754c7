//! Transaction load for broker benchmarks (see `bench/txn-commit.sh`): PRODUCERS
//! transactional librdkafka producers, each on its own thread and transactional id, run
//! TRANSACTIONS transactions apiece; each transaction writes one 1 KiB record to each of
//! PARTITIONS partitions of TOPIC and commits. Prints one JSON line: commits per second
//! over all producers and the commit latency (p50, p99: from the records' send to the
//! commit's answer) the producers saw.
//!
//! With `plain`, the baseline: idempotent producers send the same records and wait until
//! every one is acknowledged (acks=all) where the others commit — what the same writes
//! cost without a transaction.
//!
//! ```text
//! txnload BOOTSTRAP TOPIC PRODUCERS TRANSACTIONS PARTITIONS [plain]   # creates TOPIC
//! ```

use std::time::{Duration, Instant};

mod support;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const TIMEOUT: Duration = Duration::from_secs(60);

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: txnload BOOTSTRAP TOPIC PRODUCERS TRANSACTIONS PARTITIONS [plain]"
    );
    std::process::exit(2)
}

fn num(args: &[String], i: usize, what: &str) -> usize {
    let Some(s) = args.get(i) else {
        usage(&format!("missing {what}"))
    };
    s.parse()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| usage(&format!("{what} must be a positive number, got {s:?}")))
}

/// What one producer did: each commit's latency, and when its first transaction began and
/// its last commit was answered.
struct Run {
    latencies: Vec<Duration>,
    began: Instant,
    ended: Instant,
}

/// What each producer runs.
#[derive(Clone, Copy)]
struct Load<'a> {
    bootstrap: &'a str,
    topic: &'a str,
    transactions: usize,
    partitions: i32,
    /// Idempotent sends acknowledged instead of transactions (the baseline).
    plain: bool,
}

/// One producer's transactions, begun once every producer is initialised (`ready`).
fn run_producer(load: Load<'_>, id: usize, ready: &std::sync::Barrier) -> Result<Run, KafkaError> {
    let Load {
        bootstrap,
        topic,
        transactions,
        partitions,
        plain,
    } = load;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0");
    if plain {
        config.set("enable.idempotence", "true");
    } else {
        config.set("transactional.id", format!("txnload-{id}"));
    }
    // A background thread serves delivery reports as they arrive.
    let producer: ThreadedProducer<DefaultProducerContext> = config.create()?;
    let initialised = if plain {
        Ok(())
    } else {
        producer.init_transactions(TIMEOUT)
    };
    ready.wait();
    initialised?;
    let began = Instant::now();
    let payload = vec![b'x'; 1024];
    let key = id.to_be_bytes();
    let mut latencies = Vec::with_capacity(transactions);
    for _ in 0..transactions {
        if !plain {
            producer.begin_transaction()?;
        }
        for p in 0..partitions {
            let record = BaseRecord::to(topic)
                .partition(p)
                .key(&key[..])
                .payload(&payload[..]);
            producer.send(record).map_err(|(e, _)| e)?;
        }
        let start = Instant::now();
        // commit_transaction flushes first, and rdkafka's flush sleeps 100 ms whenever a
        // delivery report is still outstanding: wait for them here instead.
        while producer.in_flight_count() > 0 {
            if start.elapsed() > TIMEOUT {
                return Err(KafkaError::Flush(
                    rdkafka::types::RDKafkaErrorCode::MessageTimedOut,
                ));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        if !plain {
            producer.commit_transaction(TIMEOUT)?;
        }
        latencies.push(start.elapsed());
    }
    Ok(Run {
        latencies,
        began,
        ended: Instant::now(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bootstrap), Some(topic)) = (args.get(1), args.get(2)) else {
        usage("missing BOOTSTRAP or TOPIC")
    };
    let producers = num(&args, 3, "PRODUCERS");
    let transactions = num(&args, 4, "TRANSACTIONS");
    let partitions = i32::try_from(num(&args, 5, "PARTITIONS"))
        .unwrap_or_else(|_| usage("PARTITIONS is too large"));
    let plain = match args.get(6).map(String::as_str) {
        None => false,
        Some("plain") => true,
        Some(other) => usage(&format!("unknown option {other:?}")),
    };
    let load = Load {
        bootstrap,
        topic,
        transactions,
        partitions,
        plain,
    };
    if let Err(e) = support::create_topic(bootstrap, topic, partitions) {
        eprintln!("txnload: creating {topic}: {e}");
        std::process::exit(1);
    }
    let ready = std::sync::Barrier::new(producers);
    let results: Vec<Result<Run, KafkaError>> = std::thread::scope(|s| {
        let ready = &ready;
        let handles: Vec<_> = (0..producers)
            .map(|id| s.spawn(move || run_producer(load, id, ready)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(KafkaError::Canceled)))
            .collect()
    });
    let mut latencies = Vec::new();
    let (mut began, mut ended): (Option<Instant>, Option<Instant>) = (None, None);
    for r in results {
        match r {
            Ok(run) => {
                latencies.extend(run.latencies);
                began = Some(began.map_or(run.began, |b| b.min(run.began)));
                ended = Some(ended.map_or(run.ended, |e| e.max(run.ended)));
            }
            Err(e) => {
                eprintln!("txnload: {e}");
                std::process::exit(1);
            }
        }
    }
    // From the first transaction's start to the last commit (client setup excluded).
    let elapsed = match (began, ended) {
        (Some(b), Some(e)) => e.duration_since(b).as_secs_f64(),
        _ => 0.0,
    };
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{{\"phase\":\"{}\",\"producers\":{producers},\"partitions\":{partitions},\"commits\":{},\"seconds\":{elapsed:.3},\"commits_per_s\":{:.0},\"commit_p50_ms\":{:.2},\"commit_p99_ms\":{:.2}}}",
        if plain { "plain" } else { "txn" },
        latencies.len(),
        latencies.len() as f64 / elapsed.max(1e-9),
        pct(0.5),
        pct(0.99)
    );
}
