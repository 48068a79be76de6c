//! The alert record (`docs/events-and-alerts.md`): what a detector's transition becomes once
//! rendered, and the one JSON shape every sink receives. Depends on nothing above `event`.

pub mod model;

pub use model::{Alert, AlertKind, AlertStatus, Details, Sample, Severity};
