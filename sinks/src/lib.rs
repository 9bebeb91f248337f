//! The report store and the diagnosis sink.
