//! Command-line interface: `serve` (default), `worker`, `migrate`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{
    config::{Settings, DEFAULT_CONFIG_FILE},
    db, startup, telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "agent-webhooks",
    version,
    about = "Signed webhook triggers for agents"
)]
pub struct Cli {
    /// Settings file (TOML); a missing file means built-in defaults.
    #[arg(long, global = true, env = "AGENT_WEBHOOKS_CONFIG", default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI, the API and the webhook route, with in-process workers (the default).
    Serve {
        /// Number of in-process execution workers (overrides workers.count / WORKERS).
        #[arg(long)]
        workers: Option<u32>,
    },
    /// Run execution workers only, without HTTP.
    Worker {
        /// Number of workers (overrides workers.count / WORKERS; at least 1).
        #[arg(long)]
        workers: Option<u32>,
    },
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(&cli.config)?;
    telemetry::init(settings.log.format);
    match cli.command.unwrap_or(Command::Serve { workers: None }) {
        Command::Serve { workers } => {
            if let Some(count) = workers {
                settings.workers.count = count;
            }
            startup::Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Worker { workers } => {
            if let Some(count) = workers {
                settings.workers.count = count;
            }
            startup::run_workers_until_stopped(settings).await
        }
        Command::Migrate => {
            let pool = db::connect(&settings.database).await?;
            db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}
