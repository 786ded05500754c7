//! Debian's kcat (librdkafka 2.0.2, an old client that negotiates old, non-flexible
//! versions) against the broker: metadata, produce with every codec plus keys and headers,
//! consume from the beginning, offsets for times.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::{TestBroker, stored_codec};

fn kcat(broker: &TestBroker, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new("kcat");
    cmd.arg("-b")
        .arg(&broker.bootstrap)
        .args(["-X", "broker.address.family=v4"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot run kcat ({e}); install it with `apt-get install -y kcat` (scripts/deps does)"
        )
    });
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to kcat");
    }
    let out = child.wait_with_output().expect("kcat finishes");
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn kcat_metadata_produce_every_codec_and_consume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    // Compressible values: librdkafka sends a batch uncompressed when compression does not
    // make it smaller.
    let pad = "x".repeat(200);
    let input: String = (0..100)
        .map(|i| format!("key{i}:value{i}{pad}\n"))
        .collect();
    for (codec, id) in [
        ("none", 0),
        ("gzip", 1),
        ("snappy", 2),
        ("lz4", 3),
        ("zstd", 4),
    ] {
        let topic = format!("kcat-{codec}");
        kcat(
            &broker,
            &[
                "-P",
                "-t",
                &topic,
                "-K:",
                "-z",
                codec,
                "-H",
                "origin=kcat",
                "-X",
                "acks=all",
            ],
            Some(&input),
        );
        assert_eq!(
            stored_codec(dir.path(), &topic),
            id,
            "{codec} must arrive compressed as {codec}"
        );
        let out = kcat(
            &broker,
            &[
                "-C",
                "-t",
                &topic,
                "-o",
                "beginning",
                "-e",
                "-f",
                "%k=%s|%h|%o\n",
            ],
            None,
        );
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        let expected: Vec<String> = (0..100)
            .map(|i| format!("key{i}=value{i}{pad}|origin=kcat|{i}"))
            .collect();
        assert_eq!(lines, expected, "{codec}");
    }
    let out = kcat(&broker, &["-L", "-J"], None);
    let md = String::from_utf8_lossy(&out.stdout);
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        assert!(md.contains(&format!("\"topic\":\"kcat-{codec}\"")), "{md}");
    }
    assert!(md.contains("\"controllerid\":1"), "{md}");
}

#[test]
fn kcat_offsets_for_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    // kcat stamps records itself; produce two waves a second apart and query between them.
    kcat(&broker, &["-P", "-t", "times", "-K:"], Some("a:1\nb:2\n"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    std::thread::sleep(std::time::Duration::from_millis(100));
    kcat(&broker, &["-P", "-t", "times", "-K:"], Some("c:3\n"));
    let out = kcat(&broker, &["-Q", "-t", &format!("times:0:{between}")], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("offset 2"), "{text}");
}

#[test]
fn kcat_balanced_consumer_commits_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    kcat(
        &broker,
        &["-P", "-t", "balanced", "-K:"],
        Some("a:1\nb:2\nc:3\n"),
    );
    let consume = || {
        let out = kcat(
            &broker,
            &[
                "-G",
                "kgroup",
                "balanced",
                "-e",
                "-f",
                "%k=%s\n",
                "-X",
                "auto.offset.reset=earliest",
            ],
            None,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(consume(), "a=1\nb=2\nc=3\n");
    assert_eq!(consume(), "", "the group's committed offsets are honoured");
}
