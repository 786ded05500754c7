//! Load generator for broker benchmarks (see `bench/broker-throughput.sh`): produces or
//! consumes fixed-size records with librdkafka and prints one JSON line of figures.
//!
//! ```text
//! loadgen produce BOOTSTRAP TOPIC RECORDS SIZE ACKS     # creates TOPIC (4 partitions)
//! loadgen consume BOOTSTRAP TOPIC RECORDS
//! loadgen fetch BOOTSTRAP TOPIC RECORDS                  # raw Fetch requests, no librdkafka
//! ```
//!
//! `fetch` asks for the same sizes librdkafka does (50 MiB per response, 1 MiB per
//! partition, one request in flight) but only walks batch headers instead of decoding
//! records, so it shows what a broker serves when the client costs almost nothing.

use std::time::{Duration, Instant};

mod support;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;

fn arg(args: &[String], i: usize, what: &str) -> String {
    args.get(i).cloned().unwrap_or_else(|| {
        eprintln!("missing {what}\nusage: loadgen produce BOOTSTRAP TOPIC RECORDS SIZE ACKS | consume BOOTSTRAP TOPIC RECORDS");
        std::process::exit(2)
    })
}

fn num(s: &str, what: &str) -> usize {
    s.parse().unwrap_or_else(|_| {
        eprintln!("{what} must be a number, got {s:?}");
        std::process::exit(2)
    })
}

fn produce(
    bootstrap: &str,
    topic: &str,
    records: usize,
    size: usize,
    acks: &str,
) -> Result<(), KafkaError> {
    support::create_topic(bootstrap, topic, PARTITIONS)?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("compression.codec", "none")
        .create()?;
    let payload = vec![b'x'; size];
    let start = Instant::now();
    for i in 0..records {
        let key = (i % 1024).to_be_bytes();
        let mut record = BaseRecord::to(topic).key(&key[..]).payload(&payload[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    report("produce", records, size, start.elapsed());
    Ok(())
}

/// Keeps librdkafka's last statistics so `consume` can report how the bytes arrived.
#[derive(Default)]
struct StatsContext {
    last: std::sync::Mutex<Option<rdkafka::Statistics>>,
    /// Sum and count of fetch round trips (µs) over all windows.
    rtt: std::sync::Mutex<(i64, i64)>,
}

impl rdkafka::ClientContext for StatsContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        if let Ok(mut rtt) = self.rtt.lock() {
            for b in statistics.brokers.values().filter(|b| b.nodeid >= 0) {
                if let Some(w) = &b.rtt {
                    rtt.0 += w.sum;
                    rtt.1 += w.cnt;
                }
            }
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(statistics);
        }
    }
}
impl rdkafka::consumer::ConsumerContext for StatsContext {}

fn consume(bootstrap: &str, topic: &str, records: usize) -> Result<(), KafkaError> {
    let consumer: BaseConsumer<StatsContext> = ClientConfig::new()
        .set("statistics.interval.ms", "100")
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "loadgen")
        .set("enable.auto.commit", "false")
        // librdkafka's defaults for fetch sizes (50 MiB per response, 1 MiB per partition)
        // and for its prefetch queue (64 MiB), as most consumers run. Larger partition
        // limits make librdkafka allocate and fault in a fresh buffer the size of each
        // response (10 MiB per partition cost the client 2.7x the CPU per GB here); a 1 GiB
        // queue let it prefetch the whole topic from a broker that answers faster than
        // the application polls, and the client then spent its time faulting in memory
        // (~1.0 CPU s/GB against Culvert, ~0.6 against nisshi, for the same records).
        .create_with_context(StatsContext::default())?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let start = Instant::now();
    let (mut n, mut bytes) = (0usize, 0usize);
    while n < records {
        if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
            let msg = msg?;
            bytes += msg.payload().map_or(0, <[u8]>::len);
            n += 1;
        }
        if start.elapsed() > Duration::from_secs(300) {
            eprintln!("timed out after {n} records");
            std::process::exit(1);
        }
    }
    let elapsed = start.elapsed();
    std::thread::sleep(Duration::from_millis(250));
    if let Ok(last) = consumer.context().last.lock() {
        for b in last.iter().flat_map(|s| s.brokers.values()) {
            if b.rx > 0 && b.nodeid >= 0 {
                eprintln!(
                    "broker {}: {} responses, {} bytes, {} B average, fetch requests {:?}",
                    b.name,
                    b.rx,
                    b.rxbytes,
                    b.rxbytes / b.rx.max(1),
                    b.req.get("Fetch")
                );
            }
        }
    }
    if let Ok(rtt) = consumer.context().rtt.lock() {
        eprintln!(
            "round trip average {} µs over {}",
            rtt.0 / rtt.1.max(1),
            rtt.1
        );
    }
    report("consume", n, bytes / n.max(1), elapsed);
    Ok(())
}

/// Consumes the topic's partitions from offset 0 with Fetch v11 on one connection,
/// counting records from batch headers (a trailing partial batch is fetched again).
fn fetch_raw(bootstrap: &str, topic: &str, records: usize) -> std::io::Result<()> {
    use bytes::{Buf, BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{
        ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use std::io::{Error, Read, Write};

    const VERSION: i16 = 11;
    let invalid = |e: &dyn std::fmt::Display| Error::other(e.to_string());
    let mut socket = std::net::TcpStream::connect(bootstrap)?;
    socket.set_nodelay(true)?;
    let mut offsets = vec![0i64; PARTITIONS as usize];
    let (mut n, mut bytes, mut correlation) = (0usize, 0usize, 0i32);
    let start = Instant::now();
    while n < records {
        let request = FetchRequest::default()
            .with_replica_id((-1).into())
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(50 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        offsets
                            .iter()
                            .enumerate()
                            .map(|(p, &offset)| {
                                FetchPartition::default()
                                    .with_partition(p as i32)
                                    .with_fetch_offset(offset)
                                    .with_partition_max_bytes(1 << 20)
                            })
                            .collect(),
                    ),
            ]);
        correlation += 1;
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(ApiKey::Fetch as i16)
            .with_request_api_version(VERSION)
            .with_correlation_id(correlation)
            .encode(&mut frame, ApiKey::Fetch.request_header_version(VERSION))
            .map_err(|e| invalid(&e))?;
        request
            .encode(&mut frame, VERSION)
            .map_err(|e| invalid(&e))?;
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        socket.write_all(&frame)?;
        let mut size = [0u8; 4];
        socket.read_exact(&mut size)?;
        let mut body = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
        socket.read_exact(&mut body)?;
        let mut body = Bytes::from(body);
        ResponseHeader::decode(&mut body, ApiKey::Fetch.response_header_version(VERSION))
            .map_err(|e| invalid(&e))?;
        let response = FetchResponse::decode(&mut body, VERSION).map_err(|e| invalid(&e))?;
        for partition in response.responses.iter().flat_map(|t| t.partitions.iter()) {
            if partition.error_code != 0 {
                return Err(Error::other(format!(
                    "partition {} answered error {}",
                    partition.partition_index, partition.error_code
                )));
            }
            let Some(offset) = offsets.get_mut(partition.partition_index as usize) else {
                continue;
            };
            let mut batches = partition.records.clone().unwrap_or_default();
            while batches.len() >= 61 {
                let length = (&batches[8..12]).get_i32() as usize + 12;
                if length > batches.len() {
                    break;
                }
                let base = (&batches[..8]).get_i64();
                *offset = base + i64::from((&batches[23..27]).get_i32()) + 1;
                n += (&batches[57..61]).get_i32().max(0) as usize;
                bytes += length;
                batches.advance(length);
            }
        }
        if start.elapsed() > Duration::from_secs(300) {
            eprintln!("timed out after {n} records");
            std::process::exit(1);
        }
    }
    report("fetch", n, bytes / n.max(1), start.elapsed());
    Ok(())
}

fn report(what: &str, records: usize, size: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let mb = (records * size) as f64 / 1e6;
    println!(
        "{{\"phase\":\"{what}\",\"records\":{records},\"seconds\":{secs:.3},\"records_per_s\":{:.0},\"mb_per_s\":{:.1}}}",
        records as f64 / secs,
        mb / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = arg(&args, 1, "mode");
    let bootstrap = arg(&args, 2, "bootstrap");
    let topic = arg(&args, 3, "topic");
    let records = num(&arg(&args, 4, "records"), "records");
    let result = match mode.as_str() {
        "produce" => {
            let size = num(&arg(&args, 5, "size"), "size");
            produce(&bootstrap, &topic, records, size, &arg(&args, 6, "acks"))
        }
        "consume" => consume(&bootstrap, &topic, records),
        "fetch" => fetch_raw(&bootstrap, &topic, records).map_err(|e| {
            eprintln!("loadgen fetch: {e}");
            std::process::exit(1)
        }),
        other => {
            eprintln!("unknown mode {other}: produce or consume");
            std::process::exit(2)
        }
    };
    if let Err(e) = result {
        eprintln!("loadgen {mode}: {e}");
        std::process::exit(1);
    }
}
