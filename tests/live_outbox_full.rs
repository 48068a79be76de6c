//! An outbox that cannot be written (here: the process's file-size limit, as a full disk
//! would) stops the live path's offsets, visibly, and they move again once it can. Alone in
//! its test binary: the limit applies to the whole process.

mod common;

use std::sync::Arc;

use ondata::config::{SinkConfig, SinkKind};
use ondata::deliver::sinks_from_config;
use ondata::live::Stop;
use ondata::metrics::Metrics;
use ondata::simulate::Scenario;

use common::kafka::{produce, stream, unique};
use common::live::*;

fn set_file_size_limit(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system calls on this process's own limit and signal disposition.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

#[test]
fn an_outbox_write_failure_holds_the_offsets_until_it_is_written() {
    let topic = unique("comments");
    let mock = cluster(1, &topic, 6);
    let brokers = mock.bootstrap_servers();
    let lines = stream(Scenario::ClickDay, 1, 3);
    let group = unique("g");
    let outbox = tempfile::tempdir().unwrap();
    let mut cfg = earliest(config(&brokers, &topic, &group));
    cfg.alerts.outbox_dir = outbox.path().display().to_string();
    let mut sink = SinkConfig::new(SinkKind::Kafka);
    sink.topic = Some(unique("alerts"));
    cfg.alerts.sinks = vec![sink];
    let expected = replay_alerts(&cfg, &lines);
    assert!(expected.len() >= 2, "the scenario fires: {expected:?}");

    let sinks = sinks_from_config(&cfg, false, None).unwrap();
    let metrics = Arc::new(Metrics::new());
    // Room for the outbox's first line and nothing more: every alert line fails (EFBIG).
    set_file_size_limit(64);
    let run = start_observed(cfg, sinks, Some(metrics.clone()));
    // Consumed as produced, over 6 partitions: the mock cluster keeps only ~5 MB a
    // partition, and this stream is 6.7 MB.
    wait_until("the partitions assigned", || {
        run.stats.ready.load(std::sync::atomic::Ordering::SeqCst)
    });
    produce(&brokers, &topic, &lines);
    wait_until("every message taken", || run.taken() >= lines.len() as u64);
    wait_until("the unwritten alerts reported", || {
        metric_sum(&metrics, "ondata_alert_outbox_unwritten{") >= 1.0
    });
    // Well past a commit interval: nothing up to the end may be committed.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let held = committed_and_ends(&brokers, &topic, &group, 6);
    assert!(
        held.iter()
            .any(|(committed, end)| *end > 0 && committed < end),
        "offsets held while alerts are not in the outbox: {held:?}"
    );

    set_file_size_limit(libc::RLIM_INFINITY);
    wait_until("the outbox written again", || {
        metric_sum(&metrics, "ondata_alert_outbox_unwritten{") == 0.0
    });
    let alerts = run.alerts.clone();
    run.stop(Stop::Drain);
    for (committed, end) in committed_and_ends(&brokers, &topic, &group, 6) {
        // A partition no topic hashed to has no message and so no commit (-1).
        if end > 0 {
            assert_eq!(committed, end, "committed to the end once written");
        }
    }
    assert_eq!(
        alerts.sorted(),
        expected,
        "every alert delivered, none twice"
    );
}
