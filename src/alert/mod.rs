//! Alerts: the model every sink receives (DESIGN §3), and the sinks of the replay path.

pub mod clock;
pub mod delivery;
pub mod format;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod remote;
pub mod silence;
pub mod sink;
pub mod worker;

pub use model::{Alert, AlertKind, AlertStatus, Details, Sample, Severity};
pub use sink::{
    file_sink, file_sink_history, sinks_from_config, stdout_wants_colour, AlertSink, NdjsonSink,
    TerminalSink,
};
