//! Sources of comment events. Recorded files here; Kafka joins in the live path.

pub mod dead_letter;
pub mod file;
pub mod history;
pub mod kafka;
pub mod output;

pub use file::{open_input, InputFile, LineReader, ReadLine};
