//! The report store against a real PostgreSQL server (127.0.0.1:5432, a fresh database per
//! test) and against SQLite files, with the same test bodies.

mod common;

mod advance;
mod concurrency;
mod diagnosis;
mod fleet_filtered;
mod fleet_rows;
mod golden;
mod llm;
mod migrations;
mod progress;
mod promises;
mod reads;
mod similar;
mod stalled_llm;
mod status;
mod store_down;
mod uploads;
mod vectors;
mod writes;
