//! Delivery: where alerts go once the engine has emitted them. Routes, noise control
//! (silences, repeat intervals, grouping, rate limits), the outbox that keeps undelivered
//! alerts across restarts, and the sinks (stdout, file, webhook, Alertmanager, Kafka).

pub mod clock;
pub mod delivery;
pub mod notify;
pub mod outbox;
pub mod remote;
pub mod silence;
pub mod sink;
pub mod worker;

pub use sink::{
    file_sink, file_sink_history, sinks_from_config, stdout_wants_colour, AlertSink, NdjsonSink,
    TerminalSink,
};
