//! `switchboard user create|list|set-password`. Passwords come on standard input, never as
//! arguments (which other users of the machine can read in the process list).

use std::io::BufRead;

use anyhow::Context;
use clap::Subcommand;
use sb_types::Role;
use serde_json::json;

use crate::output;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user, optionally adding them to a workspace.
    Create {
        /// The user's email address (their login).
        email: String,
        /// Display name [default: the part of the email before @].
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input; otherwise one is
        /// generated and printed once.
        #[arg(long)]
        password_stdin: bool,
        /// Add the user to this workspace.
        #[arg(long, requires = "role")]
        workspace: Option<String>,
        /// Their role there: owner, admin, member or viewer.
        #[arg(long, requires = "workspace")]
        role: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password and end their sessions.
    SetPassword {
        email: String,
        /// Read the password from standard input; otherwise one is generated and printed.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The password from stdin, or a generated one (and whether it was generated).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((sb_core::generate_password(), true))
    }
}

pub(crate) async fn run(config: sb_config::Config, command: UserCommand) -> anyhow::Result<()> {
    let switchboard = super::open(&config).await?;
    match command {
        UserCommand::Create { email, name, password_stdin, workspace, role, json } => {
            let membership = match (workspace, role) {
                (Some(w), Some(r)) => {
                    let access = switchboard.operator_access(super::workspace_id(&w)?).await?;
                    Some((access, Role::parse(&r)?))
                }
                _ => None,
            };
            let (password, generated) = password(password_stdin)?;
            let user = switchboard.create_user(&email, name.as_deref(), Some(password.clone())).await?;
            if let Some((access, role)) = &membership {
                switchboard.add_member(access, user.email.as_str(), *role).await?;
            }
            if json {
                let mut value = json!({
                    "id": user.id.to_string(),
                    "email": user.email.as_str(),
                    "name": user.name,
                    "created_at": user.created_at.to_string(),
                });
                if let Some((access, role)) = &membership {
                    value["workspace_id"] = json!(access.workspace().to_string());
                    value["role"] = json!(role.as_str());
                }
                if generated {
                    value["password"] = json!(password);
                }
                output::json(&value);
            } else {
                println!("Created user {} ({}).", user.email, user.id);
                if let Some((access, role)) = &membership {
                    println!("  Member of workspace {} as {role}.", access.workspace());
                }
                if generated {
                    println!("  Password (shown once): {password}");
                }
            }
        }
        UserCommand::List { json } => {
            let users = switchboard.list_users().await?;
            if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| json!({"id": u.id.to_string(), "email": u.email.as_str(), "name": u.name, "created_at": u.created_at.to_string()}))
                    .collect();
                output::json(&json!(list));
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| vec![u.id.to_string(), u.email.to_string(), u.name.clone()])
                    .collect();
                output::table(&["ID", "EMAIL", "NAME"], &rows);
            }
        }
        UserCommand::SetPassword { email, password_stdin, json } => {
            let (password, generated) = password(password_stdin)?;
            switchboard.set_password(&email, password.clone()).await?;
            if json {
                let mut value = json!({"email": email.trim().to_lowercase(), "password_set": true});
                if generated {
                    value["password"] = json!(password);
                }
                output::json(&value);
            } else {
                println!("Password set; the user's sessions have ended.");
                if generated {
                    println!("  New password (shown once): {password}");
                }
            }
        }
    }
    switchboard.close().await;
    Ok(())
}
