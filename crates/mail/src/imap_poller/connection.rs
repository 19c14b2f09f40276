//! Opening and closing an IMAP session: TCP, optional TLS (rustls on the ring provider with
//! the Mozilla root store compiled in), greeting and LOGIN, each within a deadline.

use std::fmt::Debug;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_imap::{Client, Session};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ImapConfig, ImapError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain or TLS connection, so one session type serves both.
pub(super) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + Debug {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Transport for T {}

pub(super) type ImapSession = Session<Box<dyn Transport>>;

/// Runs `step`, turning a missed deadline into [`ImapError::Timeout`].
pub(super) async fn within<T>(
    limit: Duration,
    step: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(limit, step).await.map_err(|_| ImapError::Timeout)?
}

/// Connects, reads the greeting and logs in.
pub(super) async fn open(config: &ImapConfig) -> Result<ImapSession, ImapError> {
    let address = (config.host.as_str(), config.port);
    let tcp =
        within(CONNECT_TIMEOUT, async { TcpStream::connect(address).await.map_err(ImapError::Connect) })
            .await?;
    let stream: Box<dyn Transport> = if config.tls {
        let name = ServerName::try_from(config.host.clone())
            .map_err(|_| ImapError::ServerName(config.host.clone()))?;
        let connector = TlsConnector::from(tls_config()?);
        let tls =
            within(CONNECT_TIMEOUT, async { connector.connect(name, tcp).await.map_err(ImapError::Tls) })
                .await?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    within(LOGIN_TIMEOUT, async {
        let mut client = Client::new(stream);
        // The server speaks first; its greeting must be read before any command.
        client
            .read_response()
            .await
            .map_err(ImapError::Connect)?
            .ok_or(ImapError::Protocol(async_imap::error::Error::ConnectionLost))?;
        client.login(&config.username, &config.password).await.map_err(|(error, _client)| match error {
            async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                ImapError::Login(text)
            }
            async_imap::error::Error::Validate(_) => {
                ImapError::Login("the user name or password holds characters imap cannot send".to_owned())
            }
            other => ImapError::Protocol(other),
        })
    })
    .await
}

/// Logs out politely; a server that does not answer is simply disconnected.
pub(super) async fn close(mut session: ImapSession) {
    let _ = tokio::time::timeout(LOGOUT_TIMEOUT, session.logout()).await;
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, ImapError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange, which
    // only aws-lc-rs has; aws-lc-rs is a C build we keep out of the tree, and classical key
    // exchange is what IMAP servers offer today.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| ImapError::Tls(std::io::Error::other(error)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}
