//! `switchboard serve`: open the data folder, greet a first start, listen, and shut down
//! gracefully on SIGINT or SIGTERM (in-flight requests finish, databases close).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use sb_core::{FirstStart, Switchboard};
use tokio::sync::watch;

mod mail;

/// How often expired login sessions are deleted.
const SESSION_PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often outbox rows are dispatched to webhooks and due deliveries are sent.
const WEBHOOK_ROUND_EVERY: Duration = Duration::from_secs(1);

pub(crate) async fn run(config: sb_config::Config) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::output::init_logging(&config.log);
    let mail_setup = mail::setup(&config.mail)?;
    let switchboard = Switchboard::open(&config)
        .await
        .with_context(|| format!("cannot open data folder {}", config.data_dir.display()))?;
    switchboard.set_mail_setup(mail_setup);
    let first_start = switchboard.first_start(&config.owner_email).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    // Watched before the banner says the server serves: a signal sent as soon as it does stops
    // the server cleanly instead of killing it.
    let signal = watch_signals().context("cannot watch SIGINT and SIGTERM")?;
    if let Some(first) = &first_start {
        print_first_start(first, address);
    }
    println!(
        "Switchboard is serving at http://{address}/ (data folder {}, {} database)",
        config.data_dir.display(),
        switchboard.backend_name()
    );
    tracing::info!(%address, startup_ms = started.elapsed().as_millis() as u64, "serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    let purger = tokio::spawn(purge_sessions(switchboard.clone(), stop_rx.clone()));
    let webhooks = tokio::spawn(deliver_webhooks(switchboard.clone(), stop_rx.clone()));
    let mail_rounds = tokio::spawn(mail::rounds(switchboard.clone(), stop_rx.clone()));
    let smtp = mail::smtp_listener(&switchboard, &config.mail, stop_rx.clone()).await?;
    let imap = mail::imap_poller(&switchboard, &config.mail, stop_rx.clone())?;
    let inbound = sb_http::InboundAuth {
        mailgun_signing_key: config.mail.mailgun_signing_key.clone(),
        sendgrid_basic: config.mail.sendgrid_inbound_auth.clone(),
        sendgrid_public_key: config.mail.sendgrid_public_key.clone(),
        postmark_basic: config.mail.postmark_inbound_auth.clone(),
    };
    let state = sb_http::AppState::new(switchboard.clone(), config.cookie_secure)
        .with_keen_rate_limit(config.events_rate_limit)
        .with_inbound_auth(inbound);
    let app = sb_http::router(state);
    let mut shutdown = stop_rx.clone();
    let server = sb_http::serve(listener, app, async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    });
    let signals = tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    server.await;
    signals.abort();
    let _ = purger.await;
    let _ = webhooks.await;
    let _ = mail_rounds.await;
    for task in [smtp, imap].into_iter().flatten() {
        let _ = task.await;
    }
    switchboard.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn print_first_start(first: &FirstStart, address: SocketAddr) {
    let what = match &first.workspace {
        Some(_) => "the owner account and a first workspace",
        None => "the owner account, owner of the existing workspaces",
    };
    println!("First start: created {what}. This is shown once.");
    println!("  Log in at:   http://{address}/login");
    println!("  Email:       {}", first.owner_email);
    println!("  Password:    {}", first.owner_password);
    if let Some(created) = &first.workspace {
        println!("  Workspace:   {} ({})", created.workspace.name, created.workspace.id);
        println!("  Master key:  {}", created.master.secret);
        println!("  Write key:   {}", created.write.secret);
        println!("  Read key:    {}", created.read.secret);
    }
}

async fn purge_sessions(switchboard: Switchboard, mut stop: watch::Receiver<bool>) {
    loop {
        match switchboard.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "deleted expired sessions"),
            Err(error) => tracing::warn!(%error, "could not delete expired sessions"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SESSION_PURGE_EVERY) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Runs webhook rounds until told to stop. A stop during a round drops it where it is: a
/// delivery in flight stays leased and is sent again once its lease runs out.
async fn deliver_webhooks(switchboard: Switchboard, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            round = switchboard.run_webhooks(sb_types::Timestamp::now()) => match round {
                Ok(round) if round.attempted > 0 => {
                    tracing::info!(attempted = round.attempted, delivered = round.delivered, "webhook deliveries");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "webhook round failed"),
            },
            _ = stop.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(WEBHOOK_ROUND_EVERY) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Starts watching SIGINT and SIGTERM now; the future ends at the first one.
#[cfg(unix)]
fn watch_signals() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Ctrl-C, where there are no Unix signals.
#[cfg(not(unix))]
fn watch_signals() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
