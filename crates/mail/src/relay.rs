//! [`Relay`]: hands finished messages to an SMTP relay (a local Postfix, a provider's SMTP
//! endpoint) over a small pool of lettre SMTP connections, and turns the answer into the relay's reply or
//! a [`RelayFailure`] that says whether trying again later can help.

use std::error::Error as _;
use std::str::FromStr;
use std::time::Duration;

use std::sync::{Arc, Mutex, PoisonError};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::time::Instant;
use url::Url;

use crate::error::MailError;
use crate::outgoing::address;

/// How long one delivery attempt may take when the URL does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySecurity {
    /// Plain text throughout, credentials included: for a relay on loopback or a private
    /// network only.
    None,
    /// Plain connection upgraded with STARTTLS, which is required: a relay that does not
    /// offer it is an error, never a silent fall-back to plain text.
    StartTls,
    /// TLS from the first byte (implicit TLS, "SMTPS").
    Tls,
}

/// Where and how to reach the relay.
///
/// Parsed from a URL (`"smtp+starttls://user:secret@mail.example.com".parse()`):
///
/// | Scheme | Security | Default port |
/// |---|---|---|
/// | `smtp://` | [`RelaySecurity::None`] (no TLS at all) | 25 |
/// | `smtp+starttls://` | [`RelaySecurity::StartTls`] (required) | 587 |
/// | `smtps://` | [`RelaySecurity::Tls`] (implicit) | 465 |
///
/// `smtp://` means plain text on purpose: opportunistic STARTTLS can be stripped by anyone on
/// the path, so it would only look safer. User name and password are percent-decoded. Two
/// query parameters are understood, `timeout` (whole seconds, default 30) and `helo` (the
/// name given in EHLO, default `[127.0.0.1]`); any other scheme, path or parameter is an error.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    pub security: RelaySecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The limit for one whole attempt: connecting, TLS, the SMTP dialogue and the message.
    pub timeout: Duration,
    /// The EHLO name; relays that check it want this host's public name.
    pub helo_name: Option<String>,
}

impl std::fmt::Debug for RelayConfig {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("helo_name", &self.helo_name)
            .finish()
    }
}

impl FromStr for RelayConfig {
    type Err = MailError;

    fn from_str(text: &str) -> Result<RelayConfig, MailError> {
        let bad = |what: &str| MailError::Relay(what.to_owned());
        let url =
            Url::parse(text.trim()).map_err(|_| bad("the relay is not a url such as smtp://host:25"))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (RelaySecurity::None, 25),
            "smtp+starttls" => (RelaySecurity::StartTls, 587),
            "smtps" => (RelaySecurity::Tls, 465),
            _ => return Err(bad("the relay url must start with smtp://, smtp+starttls:// or smtps://")),
        };
        let host =
            url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("the relay url names no host"))?;
        // IPv6 literals come back bracketed; the socket address wants them bare.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(bad("the relay url must not have a path"));
        }
        let username = Some(decode(url.username())?).filter(|u| !u.is_empty());
        let password = url.password().map(decode).transpose()?;
        if username.is_none() && password.is_some() {
            return Err(bad("the relay url has a password but no user name"));
        }
        let mut config = RelayConfig {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
            timeout: DEFAULT_TIMEOUT,
            helo_name: None,
        };
        for (name, value) in url.query_pairs() {
            match &*name {
                "timeout" => {
                    let seconds = value.parse::<u64>().ok().filter(|s| (1..=3600).contains(s));
                    let seconds =
                        seconds.ok_or_else(|| bad("timeout must be whole seconds from 1 to 3600"))?;
                    config.timeout = Duration::from_secs(seconds);
                }
                "helo" => config.helo_name = Some(value.into_owned()),
                _ => return Err(MailError::Relay(format!("unknown relay url parameter {name:?}"))),
            }
        }
        Ok(config)
    }
}

fn decode(text: &str) -> Result<String, MailError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| MailError::Relay("the relay url's user name or password is not utf-8".into()))
}

/// The relay's final answer to an accepted message, e.g. `250` `2.0.0 Ok: queued as 4XyZ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayReply {
    pub code: u16,
    /// The reply's lines, joined with spaces.
    pub text: String,
}

/// Why a message was not accepted, and whether to retry.
///
/// `permanent` is true only for a 5xx reply (or an envelope address that can never be
/// sent to). 4xx replies, network errors, TLS failures and timeouts are transient. A
/// connection lost after the message's last byte but before the reply is also transient,
/// though the relay may have taken the message: the retry carries the same Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayFailure {
    pub permanent: bool,
    /// The SMTP reply code, when the relay answered.
    pub code: Option<u16>,
    /// The RFC 3463 enhanced status code at the start of the reply text, e.g. `5.1.1`.
    pub enhanced: Option<String>,
    /// The relay's reply text, or what went wrong on the way there.
    pub text: String,
}

impl std::fmt::Display for RelayFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.permanent { "permanent" } else { "transient" };
        match self.code {
            Some(code) => write!(f, "{kind} relay failure {code}: {}", self.text),
            None => write!(f, "{kind} relay failure: {}", self.text),
        }
    }
}

impl std::error::Error for RelayFailure {}

/// The most idle connections kept open, and how long one may idle before it is closed
/// rather than reused (relays drop idle clients after a few minutes; Postfix after 300 s).
const MAX_IDLE: usize = 8;
const MAX_IDLE_TIME: Duration = Duration::from_secs(60);

/// An SMTP relay with a pool of open connections; clones share the pool.
///
/// The pool is this module's rather than lettre's: lettre's tokio transport applies no
/// timeout after connecting, and puts a connection whose send was cancelled back in its
/// pool mid-dialogue, where the next send could read a stale `250` as its own answer. Here
/// a send owns its connection until it finishes; a cancelled or timed-out send drops it,
/// which closes it, and only a connection that completed its dialogue is reused.
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

struct Shared {
    host: String,
    port: u16,
    security: RelaySecurity,
    tls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.shared.host)
            .field("port", &self.shared.port)
            .field("security", &self.shared.security)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Prepares the relay; nothing connects until the first [`Relay::send`].
    pub fn new(config: &RelayConfig) -> Result<Relay, MailError> {
        if config.host.trim().is_empty() {
            return Err(MailError::Relay("the relay host is empty".into()));
        }
        let tls = match config.security {
            RelaySecurity::None => None,
            RelaySecurity::StartTls | RelaySecurity::Tls => {
                Some(TlsParameters::new(config.host.clone()).map_err(|error| {
                    MailError::Relay(format!("tls settings for {:?}: {error}", config.host))
                })?)
            }
        };
        let credentials = match (&config.username, &config.password) {
            (Some(user), password) => {
                Some(Credentials::new(user.clone(), password.clone().unwrap_or_default()))
            }
            (None, Some(_)) => return Err(MailError::Relay("a relay password needs a user name".into())),
            (None, None) => None,
        };
        let hello = match &config.helo_name {
            Some(name) => {
                let valid = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
                if !valid {
                    return Err(MailError::Relay(format!("the helo name {name:?} is not a host name")));
                }
                ClientId::Domain(name.clone())
            }
            None => ClientId::default(),
        };
        let shared = Shared {
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            tls,
            hello,
            credentials,
            timeout: config.timeout,
            idle: Mutex::new(Vec::new()),
        };
        Ok(Relay { shared: Arc::new(shared) })
    }

    /// Sends one message. `envelope_from` is the return path (empty for the null sender
    /// `<>`); `recipients` are the RCPT TO addresses; `message` arrives as it is (one final
    /// line break is added if it lacks one, as SMTP data always ends a line). The whole
    /// attempt, connecting included, is limited by [`RelayConfig::timeout`].
    pub async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        message: &[u8],
    ) -> Result<RelayReply, RelayFailure> {
        let envelope = envelope(envelope_from, recipients).map_err(|error| RelayFailure {
            permanent: true,
            code: None,
            enhanced: None,
            text: error.to_string(),
        })?;
        // lettre ends the data with CRLF "." CRLF whatever the message ends with, so a final
        // line break is left to it; otherwise the relay would store an extra empty line.
        let data = message.strip_suffix(b"\r\n").unwrap_or(message);
        let attempt = async {
            let mut connection = self.connection().await?;
            let result = connection.send(&envelope, data).await;
            Ok::<_, RelayFailure>((connection, result))
        };
        let (connection, result) = match tokio::time::timeout(self.shared.timeout, attempt).await {
            Ok(Ok(done)) => done,
            Ok(Err(failed)) => return Err(failed),
            Err(_) => {
                let text = format!("no answer from the relay within {:?}", self.shared.timeout);
                return Err(RelayFailure { permanent: false, code: None, enhanced: None, text });
            }
        };
        // lettre closes a connection on any error; only a finished dialogue is reused.
        if !connection.has_broken() {
            let mut idle = self.shared.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push((connection, Instant::now()));
            }
        }
        match result {
            Ok(response) => Ok(RelayReply {
                code: u16::from(response.code()),
                text: response.message().collect::<Vec<_>>().join(" "),
            }),
            Err(error) => Err(failure(&error)),
        }
    }

    /// An idle connection that still answers NOOP, or a new one (TLS and AUTH done).
    async fn connection(&self) -> Result<AsyncSmtpConnection, RelayFailure> {
        let shared = &*self.shared;
        loop {
            let parked = shared.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((mut connection, since)) = parked else { break };
            if since.elapsed() < MAX_IDLE_TIME && connection.test_connected().await {
                return Ok(connection);
            }
        }
        let wrapper = match shared.security {
            RelaySecurity::Tls => shared.tls.clone(),
            RelaySecurity::None | RelaySecurity::StartTls => None,
        };
        let server = (shared.host.as_str(), shared.port);
        let mut connection = match wrapper {
            // Our own socket with Nagle's algorithm off: lettre writes a message's body and its
            // final "." separately, and with Nagle on, the second write waits for the
            // receiver's delayed acknowledgement (40 ms on Linux) before it goes out.
            None => {
                let unreachable = |error: std::io::Error| RelayFailure {
                    permanent: false,
                    code: None,
                    enhanced: None,
                    text: format!("network error: {error}"),
                };
                let stream = tokio::net::TcpStream::connect(server).await.map_err(unreachable)?;
                stream.set_nodelay(true).map_err(unreachable)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &shared.hello)
                    .await
                    .map_err(|e| failure(&e))?
            }
            Some(tls) => AsyncSmtpConnection::connect_tokio1(
                server,
                Some(shared.timeout),
                &shared.hello,
                Some(tls),
                None,
            )
            .await
            .map_err(|e| failure(&e))?,
        };
        if let (RelaySecurity::StartTls, Some(tls)) = (shared.security, &shared.tls) {
            // Fails, rather than going on in plain text, when the relay offers no STARTTLS.
            connection.starttls(tls.clone(), &shared.hello).await.map_err(|e| failure(&e))?;
        }
        if let Some(credentials) = &shared.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(connection)
    }
}

fn envelope(from: &str, recipients: &[String]) -> Result<Envelope, MailError> {
    let from = match from.trim() {
        "" => None,
        from => Some(address(from, "envelope sender")?),
    };
    let to = recipients.iter().map(|to| address(to, "recipient")).collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|_| MailError::Relay("a message needs at least one recipient".into()))
}

fn failure(error: &lettre::transport::smtp::Error) -> RelayFailure {
    let code = error.status().map(u16::from);
    // For a reply, the source is the server's text; for anything else the whole chain says
    // more ("network error: connection refused").
    let text = match (code, error.source()) {
        (Some(_), Some(source)) => source.to_string(),
        _ => error.to_string(),
    };
    RelayFailure { permanent: error.is_permanent(), code, enhanced: enhanced_code(&text), text }
}

/// The RFC 3463 code a reply text starts with (`5.1.1 No such user` gives `5.1.1`).
pub(crate) fn enhanced_code(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    let digits =
        |part: &str, max: usize| (1..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    let valid =
        matches!(class, "2" | "4" | "5") && digits(subject, 3) && digits(detail, 3) && parts.next().is_none();
    valid.then(|| first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(enhanced_code(text).as_deref(), expected, "{text}");
        };
        check("5.1.1 No such user", Some("5.1.1"));
        check("4.7.0 Try later", Some("4.7.0"));
        check("2.0.0 Ok: queued as ABC", Some("2.0.0"));
        check("Ok queued", None);
        check("5.1 short", None);
        check("6.1.1 bad class", None);
        check("5.1.1.1 too long", None);
        check("5.1000.1 too many digits", None);
        check("", None);
    }

    #[test]
    fn relay_urls() {
        let config: RelayConfig =
            "smtp+starttls://ana%40acme.com:p%3Ass@mail.example.com?timeout=5&helo=out.acme.com"
                .parse()
                .expect("valid url");
        assert_eq!(config.host, "mail.example.com");
        assert_eq!(config.port, 587);
        assert_eq!(config.security, RelaySecurity::StartTls);
        assert_eq!(config.username.as_deref(), Some("ana@acme.com"));
        assert_eq!(config.password.as_deref(), Some("p:ss"));
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.helo_name.as_deref(), Some("out.acme.com"));
        assert!(!format!("{config:?}").contains("p:ss"), "the password is redacted");

        let plain: RelayConfig = "smtp://127.0.0.1:2525".parse().expect("valid url");
        assert_eq!((plain.security, plain.port, plain.username), (RelaySecurity::None, 2525, None));
        assert_eq!(plain.timeout, DEFAULT_TIMEOUT);
        let tls: RelayConfig = "smtps://[::1]".parse().expect("valid url");
        assert_eq!((tls.security, tls.port, tls.host.as_str()), (RelaySecurity::Tls, 465, "::1"));

        for bad in [
            "http://mail.example.com",
            "smtp:/nohost",
            "smtp://mail.example.com/path",
            "smtp://mail.example.com?timeout=0",
            "smtp://mail.example.com?starttls=true",
            "smtp://:secret@mail.example.com",
            "mail.example.com:25",
        ] {
            let error = bad.parse::<RelayConfig>().expect_err(bad);
            assert!(matches!(error, MailError::Relay(_)), "{bad}: {error}");
            let message = error.to_string();
            assert_eq!(message, message.to_lowercase(), "messages are lowercase: {message}");
        }
    }
}
