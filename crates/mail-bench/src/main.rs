//! `mail-bench`: the mail benchmarks of `bench/mail.md`. `prompts` seeds a workspace whose
//! members are all due their check-in prompt, starts `switchboard serve` with an SMTP sink as
//! its relay and times how long until every prompt has arrived; `replies` posts check-in
//! replies to the Postmark webhook and counts replies fully taken in (parsed, trimmed, stored)
//! per second.

mod prompts;
mod replies;
mod seed;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measures check-in mail out and in against a real server.
#[derive(Parser)]
#[command(name = "mail-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send every member's prompt through an SMTP sink and time it.
    Prompts(prompts::PromptArgs),
    /// Post replies to the Postmark endpoint and count them per second.
    Replies(replies::ReplyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Prompts(args) => prompts::run(args).await,
            Command::Replies(args) => replies::run(args).await,
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
