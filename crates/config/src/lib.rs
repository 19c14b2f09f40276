//! Typed configuration, read once at start: command-line flags, then `SWITCHBOARD_*`
//! environment variables, then an optional TOML file, then defaults.
//!
//! This is the only crate that reads the environment. Every option is listed in the README
//! and in `switchboard.example.toml` at the repository root.

mod database;
mod mail;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use database::{DatabaseUrl, InvalidDatabaseUrl};
pub use mail::{MailConfig, MailOptions};

/// Where the server listens unless told otherwise: loopback, so a first start exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";
/// The data folder unless told otherwise, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "switchboard-data";
/// Seconds a query may run unless told otherwise: below the HTTP layer's 30 s request timeout.
pub const DEFAULT_QUERY_TIMEOUT_SECONDS: u64 = 25;
/// Keen API requests per second per workspace unless told otherwise.
pub const DEFAULT_EVENTS_RATE_LIMIT: u32 = 1000;
/// Event JSON bytes a workspace keeps in its write-ahead tail before compacting them into a
/// Parquet part, unless told otherwise (64 MiB).
pub const DEFAULT_EVENTS_TAIL_BYTES: u64 = 64 * 1024 * 1024;
/// Seconds after which a tail holding any event is compacted, unless told otherwise.
pub const DEFAULT_EVENTS_TAIL_SECONDS: u64 = 600;
/// The owner account created on an empty data folder unless told otherwise.
pub const DEFAULT_OWNER_EMAIL: &str = "owner@localhost";

/// Options shared by every command, as flags or environment variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// TOML file with defaults for the options below.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder [default: ./switchboard-data].
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host:port/db) for the control database; each workspace
    /// gets its own database next to it. Without it, SQLite files in the data folder.
    #[arg(long, global = true, env = "SWITCHBOARD_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// File holding the server secret that protects master keys at rest and signs CSRF tokens
    /// [default: DATA_DIR/secret.key, created on first start].
    #[arg(long, global = true, env = "SWITCHBOARD_SECRET_KEY_FILE", value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Address the HTTP server listens on [default: 127.0.0.1:8700].
    #[arg(long, global = true, env = "SWITCHBOARD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Mark session cookies `Secure` [default: true]. Browsers accept Secure cookies from
    /// http://localhost and 127.0.0.1; set false only behind plain HTTP on another host.
    #[arg(long, global = true, env = "SWITCHBOARD_COOKIE_SECURE", value_name = "BOOL")]
    pub cookie_secure: Option<bool>,
    /// Email of the owner account created on an empty data folder [default: owner@localhost].
    #[arg(long, global = true, env = "SWITCHBOARD_OWNER_EMAIL", value_name = "EMAIL")]
    pub owner_email: Option<String>,
    /// Most Keen API (`/3.0`) requests per second per workspace; 0 turns the bound off
    /// [default: 1000].
    #[arg(long, global = true, env = "SWITCHBOARD_EVENTS_RATE_LIMIT", value_name = "N")]
    pub events_rate_limit: Option<u32>,
    /// Longest a Keen query may run, in seconds, before the client is told to narrow it
    /// [default: 25].
    #[arg(long, global = true, env = "SWITCHBOARD_QUERY_TIMEOUT", value_name = "SECONDS")]
    pub query_timeout: Option<u64>,
    /// Event JSON a workspace's write-ahead tail holds before it is compacted into a Parquet
    /// part, in bytes [default: 67108864 = 64 MiB].
    #[arg(long, global = true, env = "SWITCHBOARD_EVENTS_TAIL_BYTES", value_name = "BYTES")]
    pub events_tail_bytes: Option<u64>,
    /// Seconds after which a tail holding any event is compacted [default: 600].
    #[arg(long, global = true, env = "SWITCHBOARD_EVENTS_TAIL_SECONDS", value_name = "SECONDS")]
    pub events_tail_seconds: Option<u64>,
    /// Log filter, in tracing's env-filter syntax [default: info].
    #[arg(long, global = true, env = "SWITCHBOARD_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    #[command(flatten)]
    pub mail: MailOptions,
}

/// The TOML file's shape: the same options, by their snake_case names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOptions {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    secret_key_file: Option<PathBuf>,
    listen: Option<String>,
    cookie_secure: Option<bool>,
    owner_email: Option<String>,
    events_rate_limit: Option<u32>,
    query_timeout: Option<u64>,
    events_tail_bytes: Option<u64>,
    events_tail_seconds: Option<u64>,
    log: Option<String>,
    mail: Option<mail::MailFileOptions>,
}

/// Where workspace and control records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite files inside the data folder.
    Sqlite,
    /// A PostgreSQL server.
    Postgres(DatabaseUrl),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: Database,
    pub secret_key_file: PathBuf,
    pub listen: SocketAddr,
    pub cookie_secure: bool,
    pub owner_email: String,
    pub events_rate_limit: u32,
    /// Seconds.
    pub query_timeout: u64,
    pub events_tail_bytes: u64,
    /// Seconds.
    pub events_tail_seconds: u64,
    pub log: String,
    pub mail: MailConfig,
}

/// A configuration that cannot be used, with the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("invalid --listen {value:?}: expected an address such as 127.0.0.1:8700")]
    Listen { value: String },
    #[error("invalid --database-url: {0}")]
    DatabaseUrl(#[from] InvalidDatabaseUrl),
    #[error("invalid --{option}: {message}")]
    Mail { option: &'static str, message: String },
}

impl Config {
    /// Merges flags and environment (`options`) over the config file over the defaults.
    pub fn load(options: Options) -> Result<Config, ConfigError> {
        let file = match &options.config {
            Some(path) => read_file(path)?,
            None => FileOptions::default(),
        };
        let data_dir = options.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen_text = options.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().map_err(|_| ConfigError::Listen { value: listen_text.clone() })?;
        let database = match options.database_url.or(file.database_url) {
            Some(url) if !url.trim().is_empty() => Database::Postgres(DatabaseUrl::parse(&url)?),
            _ => Database::Sqlite,
        };
        let secret_key_file =
            options.secret_key_file.or(file.secret_key_file).unwrap_or_else(|| data_dir.join("secret.key"));
        Ok(Config {
            data_dir,
            database,
            secret_key_file,
            listen,
            cookie_secure: options.cookie_secure.or(file.cookie_secure).unwrap_or(true),
            owner_email: options
                .owner_email
                .or(file.owner_email)
                .unwrap_or_else(|| DEFAULT_OWNER_EMAIL.into()),
            events_rate_limit: options
                .events_rate_limit
                .or(file.events_rate_limit)
                .unwrap_or(DEFAULT_EVENTS_RATE_LIMIT),
            query_timeout: options
                .query_timeout
                .or(file.query_timeout)
                .unwrap_or(DEFAULT_QUERY_TIMEOUT_SECONDS),
            events_tail_bytes: options
                .events_tail_bytes
                .or(file.events_tail_bytes)
                .unwrap_or(DEFAULT_EVENTS_TAIL_BYTES),
            events_tail_seconds: options
                .events_tail_seconds
                .or(file.events_tail_seconds)
                .unwrap_or(DEFAULT_EVENTS_TAIL_SECONDS),
            log: options.log.or(file.log).unwrap_or_else(|| "info".into()),
            mail: MailConfig::load(options.mail, file.mail.unwrap_or_default(), listen)?,
        })
    }
}

fn read_file(path: &Path) -> Result<FileOptions, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::ReadFile { path: path.to_owned(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::ParseFile { path: path.to_owned(), message: e.message().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = Config::load(Options::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("switchboard-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8700");
        assert_eq!(config.database, Database::Sqlite);
        assert_eq!(config.secret_key_file, PathBuf::from("switchboard-data/secret.key"));
        assert!(config.cookie_secure);
    }

    #[test]
    fn flags_override_file_and_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/sb\"\nlog = \"debug\"\n")
            .unwrap();
        let options =
            Options { config: Some(path), listen: Some("127.0.0.1:9001".into()), ..Options::default() };
        let config = Config::load(options).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(config.data_dir, PathBuf::from("/srv/sb"));
        assert_eq!(config.log, "debug");
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        // Embedded rather than read from the source tree: test binaries in a shared target
        // folder may outlive the checkout they were built from.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.example.toml");
        std::fs::write(&path, include_str!("../../../switchboard.example.toml")).unwrap();
        let example = Config::load(Options { config: Some(path), ..Options::default() }).unwrap();
        let defaults = Config::load(Options::default()).unwrap();
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let listen = Options { listen: Some("localhost".into()), ..Options::default() };
        assert!(Config::load(listen).unwrap_err().to_string().starts_with("invalid --listen"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "listne = 1\n").unwrap();
        let err = Config::load(Options { config: Some(path), ..Options::default() }).unwrap_err();
        assert!(err.to_string().contains("unknown field `listne`"), "{err}");
    }
}
