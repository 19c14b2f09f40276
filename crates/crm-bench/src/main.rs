//! `crm-bench`: the CRM benchmark of `bench/crm.md`. `seed` fills a workspace through the
//! domain services (no HTTP), `load` drives a running server's JSON API over loopback with a
//! mixed load of reads and writes and reports throughput and latency percentiles per request.

mod load;
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Seeds a CRM workspace and measures the JSON API under a mixed load.
#[derive(Parser)]
#[command(name = "crm-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a workspace in a data folder and fill it with pipelines, boxes, contacts,
    /// organizations and email threads.
    Seed(seed::SeedArgs),
    /// Drive a running `switchboard serve` with 70% reads and 30% writes, then print the
    /// figures per request kind.
    Load(load::LoadArgs),
}

/// The file `seed` writes in the data folder: the workspace, its master key and the pipeline.
pub(crate) fn seed_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("crm-bench.json")
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
            Command::Seed(args) => seed::run(args).await,
            Command::Load(args) => load::run(args).await,
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
