//! The connector built as a component and run under the real Culvert host.

use culvert_connector_testkit::{PluginKind, harness_for_this_crate};

#[test]
fn emits_every_line_and_resumes_after_the_committed_one() {
    let h = harness_for_this_crate!().expect("builds and loads");
    assert_eq!(h.plugin().kind(), PluginKind::Source);
    assert_eq!(h.plugin().spec().name, "lines-source");

    let config = [("topic", "greetings"), ("lines", "hello\nbonjour\nhallo")];
    let mut run = h.source(&config).expect("start");
    let first = run.poll(2).expect("poll").expect("records");
    assert_eq!(
        first.iter().map(|r| r.value_str()).collect::<Vec<_>>(),
        ["hello", "bonjour"]
    );
    assert!(first.iter().all(|r| r.topic == "greetings"));
    let committed = run.commit_and_stop().expect("stop");

    // A restarted task continues after the last committed line.
    let mut run = h.source_from(&config, &committed).expect("restart");
    let rest = run.poll_all(10).expect("poll");
    assert_eq!(
        rest.iter().map(|r| r.value_str()).collect::<Vec<_>>(),
        ["hallo"]
    );
}

#[test]
fn validation_names_the_bad_keys() {
    let h = harness_for_this_crate!().expect("builds and loads");
    let issues = h.validate(&[("topic", " ")]).expect("validate");
    let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"lines"), "{issues:?}");
    assert!(keys.contains(&"topic"), "{issues:?}");
}
