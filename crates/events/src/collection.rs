//! `CollectionName`: a Keen event collection name, checked once.

use std::fmt;

/// Longest collection name accepted, in characters (the limit of the iOS and .NET clients).
pub const MAX_COLLECTION_NAME: usize = 64;

/// A collection name: 1 to 64 printable ASCII characters, no `$`, not starting with `_`
/// (the strictest rules among Keen's clients, so every client can address it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName(String);

impl CollectionName {
    /// Checks `text`; the error is the Keen description.
    pub fn parse(text: &str) -> Result<CollectionName, String> {
        let problem = if text.is_empty() {
            Some("must not be empty".to_owned())
        } else if text.chars().count() > MAX_COLLECTION_NAME {
            Some(format!("must be at most {MAX_COLLECTION_NAME} characters"))
        } else if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            Some("must be printable ASCII".to_owned())
        } else if text.contains('$') {
            Some("must not contain `$`".to_owned())
        } else if text.starts_with('_') {
            Some("must not start with `_`".to_owned())
        } else {
            None
        };
        match problem {
            Some(why) => Err(format!("collection name {text:?} {why}")),
            None => Ok(CollectionName(text.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["purchases", "page views", "a.b/c-d", &"x".repeat(64)] {
            assert!(CollectionName::parse(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            (&"x".repeat(65) as &str, "at most 64"),
            ("café", "ASCII"),
            ("tab\there", "ASCII"),
            ("$money", "`$`"),
            ("_private", "start with `_`"),
        ] {
            let err = CollectionName::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
