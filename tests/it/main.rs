//! The one integration-test target of the `argus` command: each module drives one
//! subcommand end to end, against real services where it needs them.

mod api;
mod broker;
mod db;
mod generate;
mod inspect;
mod pages;
mod prune;
mod replay;
mod s3;
mod serve;
mod serve_stack;
mod store;
mod streaming;
mod util;
