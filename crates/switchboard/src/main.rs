//! The `switchboard` binary: parses the command line, loads the configuration, and runs one
//! command. `serve` runs the server; the other commands administer the same data folder and
//! work while a server runs on it.

mod allocator;
mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Switchboard: a self-hosted back office for small B2B teams.
#[derive(Parser)]
#[command(name = "switchboard", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    options: sb_config::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (web pages, JSON API) on the data folder.
    Serve,
    /// Create, list and delete workspaces.
    #[command(subcommand)]
    Workspace(commands::workspace::WorkspaceCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Create and list users, set passwords.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Import contacts, organizations or boxes from a CSV file.
    Import(commands::transfer::ImportArgs),
    /// Export contacts, organizations or a pipeline's boxes as CSV or JSON.
    Export(commands::transfer::ExportArgs),
    /// Inspect inbound mail: what the parser and the reply trimmer see.
    #[command(subcommand)]
    Mail(commands::mail::MailCommand),
}

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    let cli = Cli::parse();
    let config = match sb_config::Config::load(cli.options) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => commands::serve::run(config).await,
            Command::Workspace(command) => commands::workspace::run(config, command).await,
            Command::Key(command) => commands::key::run(config, command).await,
            Command::User(command) => commands::user::run(config, command).await,
            Command::Import(args) => commands::transfer::import(config, args).await,
            Command::Export(args) => commands::transfer::export(config, args).await,
            Command::Mail(command) => commands::mail::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
