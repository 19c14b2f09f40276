//! `switchboard key create|list|revoke`.

use clap::Subcommand;
use sb_core::KeyView;
use sb_types::{ApiKeyId, KeyKind};
use serde_json::json;

use crate::output;

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a key; prints its secret once.
    Create {
        /// The workspace id.
        #[arg(long)]
        workspace: String,
        /// master, write or read.
        #[arg(long)]
        kind: String,
        /// A name to tell keys apart [default: "<Kind> key"].
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List a workspace's keys (never their secrets).
    List {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; the running server refuses it from the next request on.
    Revoke {
        #[arg(long)]
        workspace: String,
        /// The key's id (from `key list`).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn key_json(key: &KeyView) -> serde_json::Value {
    json!({
        "id": key.id.to_string(),
        "workspace_id": key.workspace.to_string(),
        "kind": key.kind.as_str(),
        "name": key.name,
        "prefix": key.prefix,
        "created_by": key.created_by,
        "created_at": key.created_at.to_string(),
        "revoked_at": key.revoked_at.map(|t| t.to_string()),
    })
}

pub(crate) async fn run(config: sb_config::Config, command: KeyCommand) -> anyhow::Result<()> {
    let switchboard = super::open(&config).await?;
    match command {
        KeyCommand::Create { workspace, kind, name, json } => {
            let access = switchboard.operator_access(super::workspace_id(&workspace)?).await?;
            let created = switchboard.create_key(&access, KeyKind::parse(&kind)?, name.as_deref()).await?;
            if json {
                let mut value = key_json(&created.key);
                value["key"] = json!(created.secret);
                output::json(&value);
            } else {
                println!(
                    "Created {} key {:?} ({}). Its secret, shown once:",
                    created.key.kind, created.key.name, created.key.id
                );
                println!("  {}", created.secret);
            }
        }
        KeyCommand::List { workspace, json } => {
            let access = switchboard.operator_access(super::workspace_id(&workspace)?).await?;
            let keys = switchboard.list_keys(&access).await?;
            if json {
                output::json(&json!(keys.iter().map(key_json).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        let status =
                            k.revoked_at.map_or_else(|| "active".to_owned(), |t| format!("revoked {t}"));
                        vec![
                            k.id.to_string(),
                            k.kind.to_string(),
                            format!("{}…", k.prefix),
                            k.name.clone(),
                            status,
                        ]
                    })
                    .collect();
                output::table(&["ID", "KIND", "KEY", "NAME", "STATUS"], &rows);
            }
        }
        KeyCommand::Revoke { workspace, id, json } => {
            let access = switchboard.operator_access(super::workspace_id(&workspace)?).await?;
            let key = switchboard.revoke_key(&access, ApiKeyId::parse(&id)?).await?;
            if json {
                output::json(&key_json(&key));
            } else {
                println!("Revoked key {} ({}).", key.id, key.name);
            }
        }
    }
    switchboard.close().await;
    Ok(())
}
