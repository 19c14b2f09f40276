//! A listener on a free loopback port with an in-memory sink that records what it was given.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sb_mail::{MailSink, ReceivedMail, SinkError, SmtpListenerConfig, serve_smtp};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The domain the test listener accepts mail for.
pub const DOMAIN: &str = "switchboard.test";

/// Records delivered mail; refuses local parts starting with `nobody` at RCPT, and fails
/// deliveries with `failure` while it is set.
#[derive(Default)]
pub struct MemorySink {
    mails: Mutex<Vec<ReceivedMail>>,
    pub failure: Mutex<Option<SinkError>>,
}

impl MemorySink {
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().expect("sink lock").clone()
    }
}

impl MailSink for MemorySink {
    fn accepts_recipient(&self, address: &str) -> bool {
        !address.starts_with("nobody")
    }

    async fn deliver(&self, message: ReceivedMail) -> Result<(), SinkError> {
        if let Some(failure) = self.failure.lock().expect("sink lock").clone() {
            return Err(failure);
        }
        self.mails.lock().expect("sink lock").push(message);
        Ok(())
    }
}

/// A running listener; `stop` shuts it down and waits for every session to end.
pub struct Listener {
    pub addr: SocketAddr,
    pub sink: Arc<MemorySink>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

pub fn config() -> SmtpListenerConfig {
    SmtpListenerConfig::new("mx.switchboard.test", [DOMAIN])
}

pub async fn start(config: SmtpListenerConfig) -> Listener {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    start_on(socket, config).await
}

pub async fn start_on(socket: tokio::net::TcpListener, config: SmtpListenerConfig) -> Listener {
    let addr = socket.local_addr().expect("local address");
    let sink = Arc::new(MemorySink::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_smtp(socket, config, sink.clone(), async move {
        let _ = stopped.await;
    }));
    Listener { addr, sink, stop, task }
}

impl Listener {
    pub async fn stop(self) -> Arc<MemorySink> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the listener stops within 10 s")
            .expect("listener task")
            .expect("listener result");
        self.sink
    }
}
