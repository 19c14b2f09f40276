//! `mail-bench replies`: posts check-in replies (real MIME, a typed answer above a quoted
//! prompt, signed reply addresses) to the Postmark webhook of a running server with a few
//! requests in flight, and reports the replies fully taken in per second: a reply counts when
//! the server has answered that it stored it and made its entries.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use sb_core::{ReplyToken, ServerSecret};

use crate::seed::{DOMAIN, seed, start};

#[derive(clap::Args)]
pub(crate) struct ReplyArgs {
    /// The `switchboard` binary to run.
    #[arg(long)]
    bin: PathBuf,
    /// A fresh data folder.
    #[arg(long)]
    data_dir: PathBuf,
    /// Replies to post.
    #[arg(long, default_value_t = 10_000)]
    replies: usize,
    /// Members they come from (round robin).
    #[arg(long, default_value_t = 1_000)]
    members: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

fn reply(i: usize, from: &str, to: &str) -> String {
    format!(
        "From: Member <{from}>\r\nTo: {to}\r\nSubject: Re: What did you get done today?\r\n\
         Message-ID: <bench-{i}@{DOMAIN}>\r\nDate: Fri, 04 Dec 2026 21:10:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Shipped feature {i} #release\r\n[] review @ana's change\r\n! waiting on the vendor\r\n\r\n\
         On Fri, Dec 4, 2026 at 5:00 PM Switchboard <checkins@{DOMAIN}> wrote:\r\n\
         > What did you get done today?\r\n>\r\n> Reply to this email.\r\n"
    )
}

pub(crate) async fn run(args: ReplyArgs) -> anyhow::Result<()> {
    let seeded = seed(&args.data_dir, args.members).await?;
    let secret = ServerSecret::load_or_create(&args.data_dir.join("secret.key"))?;
    let server_args: Vec<String> = ["--mail-domain", DOMAIN, "--postmark-inbound-auth", "bench:bench-secret"]
        .iter()
        .map(ToString::to_string)
        .collect();
    let server = start(&args.bin, &args.data_dir, &server_args)?;
    let url = format!("http://{}/inbound/postmark", server.address);
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bench:bench-secret"));
    let today = chrono::Utc::now().date_naive();
    let mut bodies = Vec::with_capacity(args.replies);
    for i in 0..args.replies {
        let (user, from) = &seeded.members[i % seeded.members.len()];
        let token = ReplyToken { workspace: seeded.workspace, user: *user, date: today };
        let to = token.address(&secret, DOMAIN);
        let raw = reply(i, from, &to);
        bodies.push(
            serde_json::json!({"RawEmail": raw, "OriginalRecipient": to, "MessageID": format!("pm-{i}")})
                .to_string(),
        );
    }
    let client = reqwest::Client::new();
    let queue = Arc::new(tokio::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, queue, url, auth) = (client.clone(), queue.clone(), url.clone(), auth.clone());
        workers.spawn(async move {
            let mut taken = 0_usize;
            loop {
                let Some(body) = queue.lock().await.pop() else { return Ok::<_, anyhow::Error>(taken) };
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", &auth)
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let answer: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
                if !status.is_success() || answer["outcome"] != "entries" {
                    anyhow::bail!("a reply was not taken in: {status} {answer}");
                }
                taken += 1;
            }
        });
    }
    let mut taken = 0;
    while let Some(done) = workers.join_next().await {
        taken += done.context("a worker stopped")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let entries = taken * 3;
    println!("replies: {taken} from {} members, {} in flight", args.members, args.concurrency);
    println!(
        "  taken in (parsed, trimmed, stored, {entries} entries) in {elapsed:.2} s: {:.0} replies/s",
        taken as f64 / elapsed
    );
    println!(
        "  goal: at least 500 replies/s: {}",
        if taken as f64 / elapsed >= 500.0 { "met" } else { "NOT met" }
    );
    drop(server);
    Ok(())
}
