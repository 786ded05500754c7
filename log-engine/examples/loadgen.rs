//! Load generator for broker benchmarks (see `bench/broker-throughput.sh`): produces or
//! consumes fixed-size records with librdkafka and prints one JSON line of figures.
//!
//! ```text
//! loadgen produce BOOTSTRAP TOPIC RECORDS SIZE ACKS     # creates TOPIC (4 partitions)
//! loadgen consume BOOTSTRAP TOPIC RECORDS
//! ```

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
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
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
    rt.block_on(admin.create_topics(
        &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
        &AdminOptions::new(),
    ))?;
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

fn consume(bootstrap: &str, topic: &str, records: usize) -> Result<(), KafkaError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "loadgen")
        .set("enable.auto.commit", "false")
        // librdkafka's default fetch sizes (50 MiB per response, 1 MiB per partition), as
        // most consumers run. Larger partition limits make librdkafka allocate and fault in
        // a fresh buffer the size of each response (10 MiB per partition cost the client
        // 2.7x the CPU per GB here), whichever broker answers.
        .set("queued.max.messages.kbytes", "1048576")
        .create()?;
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
    report("consume", n, bytes / n.max(1), start.elapsed());
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
