//! The `argus` command: a thin layer of subcommands over the library crates.

use clap::{Parser, Subcommand};

/// Argus turns the rec files vehicles upload into diagnoses.
#[derive(Debug, Parser)]
#[command(name = "argus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a deterministic synthetic fleet in the replay layout.
    Gen(argus::generate::GenArgs),
    /// Show the statistics of rec files.
    Inspect(argus::inspect::InspectArgs),
    /// Replay archived batches from a directory or object-store prefix into reports.
    Replay(argus::replay::ReplayArgs),
    /// Create or update the report store's schema.
    Migrate(argus::migrate::MigrateArgs),
    /// Remove the batches final for longer than a duration, leaving tombstones (retention).
    Prune(argus::prune::PruneArgs),
    /// Run the streaming pipeline: Kafka file-ready events in, reports in the store.
    Pipeline(argus::pipeline::PipelineArgs),
    /// Run the whole system: the HTTP API, the dataflow and the store (embedded default:
    /// SQLite, a local directory and an in-process queue under --data-dir).
    Serve(argus::serve::ServeArgs),
    /// Upload a batch directory (or a layout of many) to `argus serve` and complete it.
    Upload(argus::upload::UploadArgs),
    /// Publish one file-ready event per file of an archived layout to Kafka.
    Publish(argus::publish::PublishArgs),
}

fn main() -> std::process::ExitCode {
    argus::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(args) => argus::generate::run(args),
        Command::Inspect(args) => argus::inspect::run(args),
        Command::Replay(args) => argus::replay::run(args),
        Command::Migrate(args) => argus::migrate::run(args),
        Command::Prune(args) => argus::prune::run(args),
        Command::Pipeline(args) => argus::pipeline::run(args),
        Command::Publish(args) => argus::publish::run(args),
        Command::Serve(args) => argus::serve::run(args),
        Command::Upload(args) => argus::upload::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("argus: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
