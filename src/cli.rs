//! Command-line interface. `serve` is the default command.

use std::{io::Read, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    config::{Settings, DEFAULT_CONFIG_FILE},
    crypto::keyring::MasterKeyring,
    db, services, startup, telemetry,
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
    /// Create an administrator (and the tenant, if new). The password is read from stdin
    /// when stdin is not a terminal; otherwise one is generated and printed once.
    CreateAdmin {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Succeed without changes when the email already exists.
        #[arg(long)]
        if_missing: bool,
    },
    /// Create an API token for scripts and CI; prints the token alone on stdout, once.
    CreateToken {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// Print a new Fernet master key (for `security.master_keys` / MASTER_KEYS).
    GenerateMasterKey,
    /// Re-encrypt every tenant key under the newest master key (the first of MASTER_KEYS).
    RotateMasterKey,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(&cli.config)?;
    let command = cli.command.unwrap_or(Command::Serve { workers: None });
    if let Command::GenerateMasterKey = command {
        println!("{}", MasterKeyring::generate_key());
        return Ok(());
    }
    telemetry::init(settings.log.format);
    match command {
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
            open_database(&settings).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin {
            tenant,
            email,
            if_missing,
        } => create_admin(&settings, &tenant, &email, if_missing).await,
        Command::CreateToken { tenant, name } => {
            let (pool, keyring) = open_with_keys(&settings).await?;
            let token = services::auth::create_api_token(&pool, &keyring, &tenant, &name).await?;
            println!("{token}");
            Ok(())
        }
        Command::RotateMasterKey => {
            let (pool, keyring) = open_with_keys(&settings).await?;
            let count = services::keys::rotate_master_key(&pool, &keyring).await?;
            eprintln!("re-encrypted {count} tenant keys under the newest master key");
            Ok(())
        }
        Command::GenerateMasterKey => unreachable!("handled above"),
    }
}

async fn open_database(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool).await?;
    Ok(pool)
}

async fn open_with_keys(settings: &Settings) -> anyhow::Result<(sqlx::PgPool, MasterKeyring)> {
    let keyring = services::keys::load_master_keyring(&settings.security)?;
    Ok((open_database(settings).await?, keyring))
}

async fn create_admin(
    settings: &Settings,
    tenant: &str,
    email: &str,
    if_missing: bool,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;

    let (pool, keyring) = open_with_keys(settings).await?;
    if if_missing && services::auth::user_exists(&pool, email).await? {
        eprintln!("administrator {email} already exists");
        return Ok(());
    }
    let (password, generated) = if std::io::stdin().is_terminal() {
        (services::auth::generate_password(), true)
    } else {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the password from stdin")?;
        (input.trim_end_matches(['\r', '\n']).to_owned(), false)
    };
    let admin = services::auth::create_admin(&pool, &keyring, tenant, email, &password).await?;
    eprintln!("created administrator {} in tenant {tenant}", admin.email);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}
