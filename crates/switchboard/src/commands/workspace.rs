//! `switchboard workspace create|list|delete`.

use anyhow::bail;
use clap::Subcommand;
use serde_json::json;

use crate::output;

#[derive(Subcommand)]
pub(crate) enum WorkspaceCommand {
    /// Create a workspace with a master, a write and a read key; prints the keys once.
    Create {
        /// The workspace's name (unique, at most 100 characters).
        name: String,
        /// Print JSON: {"id", "name", "created_at", "master_key", "write_key", "read_key"}.
        #[arg(long)]
        json: bool,
    },
    /// List workspaces.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a workspace with all of its data, keys and memberships.
    Delete {
        /// The workspace id.
        id: String,
        /// Confirm the deletion: it cannot be undone.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(config: sb_config::Config, command: WorkspaceCommand) -> anyhow::Result<()> {
    let switchboard = super::open(&config).await?;
    match command {
        WorkspaceCommand::Create { name, json } => {
            let created = switchboard.create_workspace(&name, None).await?;
            let w = &created.workspace;
            if json {
                output::json(&json!({
                    "id": w.id.to_string(),
                    "name": w.name.as_str(),
                    "created_at": w.created_at.to_string(),
                    "master_key": created.master.secret,
                    "write_key": created.write.secret,
                    "read_key": created.read.secret,
                }));
            } else {
                println!("Created workspace {} ({}). Its keys, shown once:", w.name, w.id);
                println!("  Master key:  {}", created.master.secret);
                println!("  Write key:   {}", created.write.secret);
                println!("  Read key:    {}", created.read.secret);
            }
        }
        WorkspaceCommand::List { json } => {
            let workspaces = switchboard.list_workspaces().await?;
            if json {
                let list: Vec<_> = workspaces
                    .iter()
                    .map(|w| json!({"id": w.id.to_string(), "name": w.name.as_str(), "created_at": w.created_at.to_string()}))
                    .collect();
                output::json(&json!(list));
            } else {
                let rows: Vec<Vec<String>> = workspaces
                    .iter()
                    .map(|w| vec![w.id.to_string(), w.name.to_string(), w.created_at.to_string()])
                    .collect();
                output::table(&["ID", "NAME", "CREATED"], &rows);
            }
        }
        WorkspaceCommand::Delete { id, yes, json } => {
            let id = super::workspace_id(&id)?;
            let access = switchboard.operator_access(id).await?;
            if !yes {
                bail!("deleting workspace {id} removes all of its data; run again with --yes to confirm");
            }
            switchboard.delete_workspace(&access).await?;
            if json {
                output::json(&json!({"id": id.to_string(), "deleted": true}));
            } else {
                println!("Deleted workspace {id}.");
            }
        }
    }
    switchboard.close().await;
    Ok(())
}
