//! `mail-bench prompts`: every member of a seeded workspace is due their prompt; the server
//! plans, composes and sends them through an SMTP sink (this crate runs `sb-mail`'s SMTP
//! listener as the sink, counting what arrives) and the run reports how long until the last
//! one arrived.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sb_mail::{MailSink, ReceivedMail, SinkError, SmtpListenerConfig};

use crate::seed::{DOMAIN, seed, start};

#[derive(clap::Args)]
pub(crate) struct PromptArgs {
    /// The `switchboard` binary to run.
    #[arg(long)]
    bin: PathBuf,
    /// A fresh data folder.
    #[arg(long)]
    data_dir: PathBuf,
    /// Members, each due one prompt.
    #[arg(long, default_value_t = 40_000)]
    members: usize,
    /// Connections the server opens to the sink's domain at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
}

/// Counts what arrives.
struct Counter(AtomicUsize);

impl MailSink for Counter {
    async fn deliver(&self, _message: ReceivedMail) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub(crate) async fn run(args: PromptArgs) -> anyhow::Result<()> {
    seed(&args.data_dir, args.members).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sink = tokio::spawn(sb_mail::serve_smtp(
        listener,
        SmtpListenerConfig::new("sink.test", [DOMAIN]),
        counter.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let relay = format!("smtp://127.0.0.1:{port}");
    let server_args: Vec<String> = [
        "--smtp-relay",
        &relay,
        "--mail-domain",
        DOMAIN,
        "--mail-rate",
        "0",
        "--mail-domain-concurrency",
        &args.concurrency.to_string(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let started = Instant::now();
    let server = start(&args.bin, &args.data_dir, &server_args)?;
    let mut first: Option<Duration> = None;
    loop {
        let arrived = counter.0.load(Ordering::Relaxed);
        if arrived > 0 && first.is_none() {
            first = Some(started.elapsed());
        }
        if arrived >= args.members {
            break;
        }
        if started.elapsed() > Duration::from_secs(args.timeout) {
            anyhow::bail!("only {arrived} of {} prompts arrived in {} s", args.members, args.timeout);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    drop(server);
    let _ = stop.send(());
    let _ = sink.await;
    let first = first.unwrap_or_default();
    println!("prompts: {} members", args.members);
    println!("  server start to first prompt at the sink: {:.2} s", first.as_secs_f64());
    println!("  server start to last prompt at the sink:  {:.2} s", total.as_secs_f64());
    println!(
        "  sending (first to last):                 {:.2} s, {:.0} prompts/s",
        (total - first).as_secs_f64(),
        args.members as f64 / (total - first).as_secs_f64().max(0.001)
    );
    println!("  goal: under 120 s in all: {}", if total.as_secs_f64() < 120.0 { "met" } else { "NOT met" });
    Ok(())
}
