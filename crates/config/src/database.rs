//! `DatabaseUrl`: a checked PostgreSQL URL, and the names of the per-workspace databases.

use std::fmt;

/// Longest control database name: leaves room for `_` and a 24-character workspace id
/// inside PostgreSQL's 63-byte identifier limit.
const MAX_DATABASE_NAME: usize = 38;

/// Why a `--database-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDatabaseUrl(String);

/// A PostgreSQL URL naming a host and a control database.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: url::Url,
    database: String,
}

impl DatabaseUrl {
    /// Checks the scheme, host and database name.
    pub fn parse(text: &str) -> Result<Self, InvalidDatabaseUrl> {
        let fail = |why: &str| {
            InvalidDatabaseUrl(format!("{why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"))
        };
        let url = url::Url::parse(text.trim()).map_err(|e| fail(&format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(fail(&format!("unsupported scheme {:?}", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(fail("no host"));
        }
        let database = url.path().trim_start_matches('/').to_owned();
        if database.is_empty() {
            return Err(fail("no database name"));
        }
        let simple = database.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !simple || database.len() > MAX_DATABASE_NAME {
            return Err(fail(&format!(
                "database name {database:?} must be 1 to {MAX_DATABASE_NAME} characters of a-z, 0-9 and _"
            )));
        }
        Ok(DatabaseUrl { url, database })
    }

    /// The control database's name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The full URL of the control database.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The same server, another database.
    pub fn with_database(&self, database: &str) -> String {
        let mut url = self.url.clone();
        url.set_path(&format!("/{database}"));
        url.to_string()
    }
}

/// Never prints the password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        write!(f, "DatabaseUrl({url})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_postgres_urls() {
        let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/switchboard").unwrap();
        assert_eq!(url.database(), "switchboard");
        assert_eq!(
            url.with_database("switchboard_0123"),
            "postgres://postgres@127.0.0.1:5432/switchboard_0123"
        );
        assert!(DatabaseUrl::parse("postgresql://u:p@db/sb?sslmode=disable").is_ok());
    }

    #[test]
    fn refuses_malformed_urls_with_a_reason() {
        for (text, why) in [
            ("not a url", "not a URL"),
            ("mysql://root@localhost/sb", "unsupported scheme"),
            ("postgres:///sb", "no host"),
            ("postgres://localhost", "no database name"),
            ("postgres://localhost/Has-Dash", "must be 1 to 38"),
        ] {
            let err = DatabaseUrl::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://u:hunter2@db/sb").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
