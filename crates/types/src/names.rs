//! Validated names and enumerations: workspace names, email addresses, saved query names, key
//! kinds, member roles, CRM field types.

use std::fmt;

use crate::InvalidValue;

/// The longest workspace name accepted, in characters.
pub const WORKSPACE_NAME_MAX: usize = 100;

/// A workspace name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// Trims and checks `text`.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let name = text.trim();
        if name.is_empty() {
            return Err(InvalidValue("workspace name must not be empty".into()));
        }
        let chars = name.chars().count();
        if chars > WORKSPACE_NAME_MAX {
            return Err(InvalidValue(format!(
                "workspace name is {chars} characters long; the limit is {WORKSPACE_NAME_MAX}"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidValue("workspace name must not contain control characters".into()));
        }
        Ok(WorkspaceName(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, trimmed and lower-cased, of the form `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Normalises and checks `text`. The check is deliberately shallow (one `@`, a non-empty
    /// local part, a dotted or `localhost` domain, no spaces): deliverability is proven by mail,
    /// not by a regular expression.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let email = text.trim().to_lowercase();
        let bad = || InvalidValue(format!("not an email address: {:?}", text.trim()));
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain == "localhost"
            || (domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
        if local.is_empty() || domain.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Email(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization's internet domain, trimmed and lower-cased, without a scheme, a path, a
/// port or a leading `www.` (so "https://www.Acme.com/about" is "acme.com"): the form the part
/// after an email address's `@` takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Normalises and checks `text`: labels of letters, digits and `-` (or any non-ASCII
    /// letter), separated by dots, at least two of them, at most 253 characters.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let bad = || InvalidValue(format!("not a domain: {:?}", text.trim()));
        let mut domain = text.trim().to_lowercase();
        if let Some((_, rest)) = domain.split_once("://") {
            domain = rest.to_owned();
        }
        let host = domain.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let host = host.strip_prefix("www.").unwrap_or(host).trim_end_matches('.');
        let labels: Vec<&str> = host.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if host.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(bad());
        }
        Ok(Domain(host.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest saved query name accepted, in characters.
pub const QUERY_NAME_MAX: usize = 128;

/// A saved query's name, as it appears in its URL (`/queries/saved/{name}`): 1 to 128 ASCII
/// letters, digits, `-` and `_`, so clients can put it into a path without encoding it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryName(String);

impl QueryName {
    /// Checks `text` (not trimmed: a name is an exact URL segment).
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        if text.is_empty() || text.len() > QUERY_NAME_MAX {
            return Err(InvalidValue(format!(
                "a saved query name must be 1 to {QUERY_NAME_MAX} characters long"
            )));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(InvalidValue(format!(
                "saved query name {text:?} may hold only letters, digits, \"-\" and \"_\""
            )));
        }
        Ok(QueryName(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $noun:literal { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lowercase word used in the database, the CLI and the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// Parses the lowercase word.
            pub fn parse(text: &str) -> Result<Self, InvalidValue> {
                match text {
                    $($word => Ok($name::$variant),)+
                    _ => Err(InvalidValue(format!(
                        concat!("unknown ", $noun, " {:?}; expected one of: {}"),
                        text,
                        [$($word),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// What an API key may do, following Keen's key kinds.
    KeyKind, "key kind" {
        /// Everything, including administration.
        Master = "master",
        /// Record events and other writes.
        Write = "write",
        /// Queries and reads.
        Read = "read",
    }
);

word_enum!(
    /// A member's role in a workspace.
    Role, "role" {
        /// Created the workspace; can do everything, including deleting it.
        Owner = "owner",
        /// Manages members and keys.
        Admin = "admin",
        /// Reads and writes the workspace's data.
        Member = "member",
        /// Reads only.
        Viewer = "viewer",
    }
);

word_enum!(
    /// The type of a CRM pipeline's custom field, which decides what its values may be.
    FieldType, "field type" {
        /// A string.
        Text = "text",
        /// A finite number.
        Number = "number",
        /// A calendar date, `YYYY-MM-DD`.
        Date = "date",
        /// `true` or `false`.
        Checkbox = "checkbox",
        /// One of the field's options.
        Dropdown = "dropdown",
        /// A list of distinct tags.
        Tags = "tags",
        /// A member of the workspace, by user id.
        Person = "person",
        /// A contact of the workspace, by id.
        Contact = "contact",
        /// An organization of the workspace, by id.
        Organization = "organization",
    }
);

word_enum!(
    /// Why an email thread is on a box.
    ThreadSource, "thread source" {
        /// Filed by a person.
        Manual = "manual",
        /// Filed by a rule or because the message named the box.
        Automatic = "automatic",
        /// Proposed, not yet confirmed: not part of the box until a person files it.
        Suggested = "suggested",
        /// Removed or refused by a person: never suggested or filed automatically again.
        Rejected = "rejected",
    }
);

word_enum!(
    /// The part an address plays in an email.
    ParticipantRole, "participant role" {
        From = "from",
        To = "to",
        Cc = "cc",
        Bcc = "bcc",
        ReplyTo = "reply_to",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names() {
        assert_eq!(WorkspaceName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(WorkspaceName::parse("   ").is_err());
        assert!(WorkspaceName::parse(&"x".repeat(WORKSPACE_NAME_MAX)).is_ok());
        let long = WorkspaceName::parse(&"é".repeat(WORKSPACE_NAME_MAX + 1)).unwrap_err();
        assert!(long.0.contains("the limit is 100"), "{long}");
        assert!(WorkspaceName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" Ana@Acme.COM ").unwrap().as_str(), "ana@acme.com");
        assert!(Email::parse("owner@localhost").is_ok());
        for bad in ["", "ana", "@acme.com", "ana@", "ana@acme", "a b@acme.com", "a@b@c.com", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for (text, domain) in [
            ("acme.com", "acme.com"),
            (" https://www.Acme.COM/about?x=1 ", "acme.com"),
            ("shop.acme.co.uk:8443", "shop.acme.co.uk"),
            ("acme.com.", "acme.com"),
            ("bücher.de", "bücher.de"),
        ] {
            assert_eq!(Domain::parse(text).unwrap().as_str(), domain, "{text}");
        }
        for bad in [
            "",
            "acme",
            "www.",
            "a..b",
            "-a.com",
            "a b.com",
            "ana@acme.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Email::parse("Ana@Shop.Acme.com").unwrap().domain(), "shop.acme.com");
    }

    #[test]
    fn query_names() {
        assert_eq!(QueryName::parse("weekly-signups_2").unwrap().as_str(), "weekly-signups_2");
        assert!(QueryName::parse(&"q".repeat(QUERY_NAME_MAX)).is_ok());
        for bad in ["", " a", "a b", "a/b", "a.b", "ü", &"q".repeat(QUERY_NAME_MAX + 1)] {
            assert!(QueryName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn enums_round_trip() {
        for kind in KeyKind::ALL {
            assert_eq!(KeyKind::parse(kind.as_str()).unwrap(), *kind);
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), *role);
        }
        for field_type in FieldType::ALL {
            assert_eq!(FieldType::parse(field_type.as_str()).unwrap(), *field_type);
        }
        assert!(FieldType::parse("formula").is_err());
        let err = Role::parse("boss").unwrap_err();
        assert_eq!(err.0, "unknown role \"boss\"; expected one of: owner, admin, member, viewer");
    }
}
