//! One module per command family.

pub(crate) mod key;
pub(crate) mod mail;
pub(crate) mod serve;
pub(crate) mod transfer;
pub(crate) mod user;
pub(crate) mod workspace;

use anyhow::Context;
use sb_core::Switchboard;

/// Opens the data folder for an admin command, logging only warnings and errors.
pub(crate) async fn open(config: &sb_config::Config) -> anyhow::Result<Switchboard> {
    crate::output::init_logging("warn");
    Switchboard::open(config)
        .await
        .with_context(|| format!("cannot open data folder {}", config.data_dir.display()))
}

/// Parses a workspace id argument.
pub(crate) fn workspace_id(text: &str) -> anyhow::Result<sb_types::WorkspaceId> {
    Ok(sb_types::WorkspaceId::parse(text)?)
}
