//! The inbound SMTP listener (RFC 5321): accepts mail for the configured domains only and
//! hands each message to a [`MailSink`]; the client hears 250 only once the sink has stored
//! the message, so an acknowledged message is never lost. No TLS and no AUTH: it is meant to
//! sit behind an MTA or on a trusted network.

mod command;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sb_types::ErrorKind;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How the listener behaves; every limit is per connection except `max_connections`.
#[derive(Debug, Clone)]
pub struct SmtpListenerConfig {
    /// Our name in the greeting, EHLO reply and `Received:` header.
    pub hostname: String,
    /// Recipient domains we accept mail for, lower-case; any other is refused as relaying.
    pub domains: Vec<String>,
    /// The largest message (after dot-unstuffing) we store; advertised as SIZE.
    pub max_message_bytes: usize,
    /// Recipients per message; more are answered 452 (the client sends them again later).
    pub max_recipients: usize,
    /// A client silent this long is told 421 and disconnected.
    pub idle_timeout: Duration,
    /// Connections served at once; one more is told 421 and closed.
    pub max_connections: usize,
}

impl SmtpListenerConfig {
    /// A listener for `domains` with the usual limits: 40 MiB messages (a 25 MB attachment
    /// grows by a third in base64), 100 recipients (RFC 5321's minimum), a 5-minute idle
    /// timeout (RFC 5321 §4.5.3.2.7) and 100 connections.
    pub fn new(hostname: impl Into<String>, domains: impl IntoIterator<Item = impl Into<String>>) -> Self {
        SmtpListenerConfig {
            hostname: hostname.into(),
            domains: domains.into_iter().map(|domain| domain.into().to_lowercase()).collect(),
            max_message_bytes: 40 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(300),
            max_connections: 100,
        }
    }
}

/// A message as received: the exact bytes (our `Received:` line first) and the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub raw: Vec<u8>,
    /// `MAIL FROM`; `None` for the null sender `<>` of bounces and auto-replies.
    pub envelope_from: Option<String>,
    /// Accepted `RCPT TO` addresses, domains lower-cased.
    pub envelope_to: Vec<String>,
    pub peer: SocketAddr,
}

/// Why the sink did not take a message; the reason is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Try again later (storage down): answered 451, so the client keeps the message.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Never acceptable: answered 554, so the client bounces it to its sender.
    #[error("message refused: {0}")]
    Permanent(String),
}

impl SinkError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SinkError::Transient(_) => ErrorKind::Unavailable,
            SinkError::Permanent(_) => ErrorKind::Invalid,
        }
    }
}

/// Where accepted mail goes. `deliver` must store the message durably before it returns
/// `Ok`: the client then forgets it.
pub trait MailSink: Send + Sync + 'static {
    /// Called for each `RCPT TO` at one of our domains; `false` answers 550 5.1.1 so that
    /// mail to unknown addresses is refused by the sending server instead of bounced by us.
    fn accepts_recipient(&self, _address: &str) -> bool {
        true
    }

    fn deliver(&self, message: ReceivedMail) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// Serves SMTP on `listener` until `shutdown` resolves, one task per connection and at most
/// `config.max_connections` of them. On shutdown it stops accepting, tells idle clients 421,
/// lets a message being received or delivered finish, and returns when every session has
/// ended. Errors accepting a connection (out of file descriptors) are logged and retried.
pub async fn serve_smtp<S: MailSink>(
    listener: TcpListener,
    config: SmtpListenerConfig,
    sink: Arc<S>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut sessions = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "smtp accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Each reply is flushed whole; waiting to coalesce it with more only delays the
                // client, which waits for it.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot turn Nagle's algorithm off for an smtp client");
                }
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let session = session::Session::new(
                            stream, peer, config.clone(), sink.clone(), stopping.clone(),
                        );
                        sessions.spawn(async move {
                            session.run().await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "smtp connection refused: too many connections");
                        sessions.spawn(refuse_busy(stream));
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while sessions.join_next().await.is_some() {}
    Ok(())
}

/// Tells a client over the connection limit to come back later, without waiting on it long.
async fn refuse_busy(mut stream: TcpStream) {
    let reply = stream.write_all(b"421 4.7.0 too many connections, try again later\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), reply).await;
}
