//! What `ondata run --role` asks of a process when comments are repartitioned by topic.

/// The stages a process runs when comments are repartitioned by topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Both: the usual single process, and every instance of a simple scale-out.
    #[default]
    All,
    /// Reads the input topics, rejects bad messages, resolves each comment's topics (its
    /// own and the keyword rules') and writes one record per topic, keyed by it.
    Ingest,
    /// Watches the topics of its share of the internal topic's partitions.
    Detect,
}
