//! `argus serve-api`: the HTTP API alone, publishing file-ready events to Kafka for an
//! `argus pipeline` that runs elsewhere (what `argus serve --no-pipeline` will run).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use argus_api::{ApiConfig, AppState, Objects, Tokens};
use argus_ingest::KafkaPublisher;
use argus_sinks::Store;

/// Arguments of `argus serve-api`.
#[derive(Debug, clap::Args)]
pub struct ServeApiArgs {
    /// Where to listen. A non-loopback address needs tokens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The store: `postgres://…` or `sqlite://path?mode=rwc` (migrated on start).
    #[arg(long)]
    pub database_url: String,
    /// Where uploads go: a directory, or `s3://bucket/prefix` (`AWS_*` settings).
    #[arg(long)]
    pub object_store: String,
    /// Kafka brokers (`host:port,…`).
    #[arg(long)]
    pub brokers: String,
    #[arg(long, default_value = "argus.files.ready")]
    pub topic: String,
    /// Bearer tokens: JSON `[{"role","token"}]` or `role:token` lines. Default:
    /// `ARGUS_API_TOKENS` (`role:token,…`), else none.
    #[arg(long)]
    pub tokens_file: Option<PathBuf>,
    /// Largest file an upload may carry.
    #[arg(long, default_value = "8GiB", value_parser = crate::args::parse_size)]
    pub max_file_size: u64,
}

pub fn run(args: ServeApiArgs) -> anyhow::Result<ExitCode> {
    let tokens = match &args.tokens_file {
        Some(path) => Tokens::from_file(path)?,
        None => Tokens::from_env()?,
    };
    let config = ApiConfig { tokens, max_file_size: args.max_file_size, ..ApiConfig::default() };
    config.validate(args.addr)?;
    let runtime = crate::runtime::start()?;
    runtime.block_on(serve(args, config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeApiArgs, config: ApiConfig) -> anyhow::Result<()> {
    let store = Store::open(&args.database_url).await?;
    store.migrate().await?;
    let objects = if args.object_store.contains("://") {
        Objects::from_url(&args.object_store)?
    } else {
        Objects::local(std::path::Path::new(&args.object_store))?
    };
    let publisher = Arc::new(KafkaPublisher::connect(&args.brokers, &args.topic)?);
    let state = AppState::new(config, store.clone(), objects, publisher, None);
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "api listening");
    let shutdown = state.shutdown_on(async {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down: finishing requests in progress");
    });
    argus_api::serve(listener, argus_api::router(state), shutdown).await?;
    store.close().await;
    Ok(())
}

/// Resolves when SIGTERM or SIGINT arrives, naming it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
