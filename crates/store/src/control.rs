//! The control database's tables, one module per table family.

pub(crate) mod imap;
#[cfg(target_os = "linux")]
pub(crate) mod key_cache;
pub(crate) mod keys;
pub(crate) mod sessions;
pub(crate) mod users;
pub(crate) mod workspaces;
