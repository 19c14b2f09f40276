//! The CRM pages: pipelines (list, board, table), boxes, contacts and organizations, the
//! tasks due, and CSV import and export. Each handler checks the workspace and the object its
//! address names, so an unknown one is a 404 page, then renders a template whose script reads
//! and changes the records through the JSON API with the session and its CSRF token, as the
//! explorer does.

mod boxes;
mod contacts;
mod imports;
mod pipelines;

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use sb_core::{Access, CoreError, Permission, Pipeline, SessionView};
use serde_json::json;

pub(crate) use boxes::{crm_box, tasks};
pub(crate) use contacts::{contact, contacts, organization};
pub(crate) use imports::import_export;
pub(crate) use pipelines::{board, pipelines, table};

use super::shell;
use crate::AppState;

/// A CRM page's access and its shared context: the shell's, the workspace's members as JSON
/// (assignee pickers, names for user ids) and whether the user may change records.
struct CrmPage {
    access: Access,
    ctx: Value,
}

impl CrmPage {
    async fn open(
        state: &AppState,
        session: &SessionView,
        id: &str,
        section: &str,
    ) -> Result<CrmPage, Response> {
        let shell = shell::open(state, session, id, section).await?;
        let members =
            state.switchboard.members(&shell.access).await.map_err(|e| state.pages.core_error(&e))?;
        let members: Vec<serde_json::Value> = members
            .iter()
            .map(|m| {
                let email = m.user.email.as_str();
                let name = if m.user.name.trim().is_empty() { email } else { m.user.name.as_str() };
                json!({"id": m.user.id.to_string(), "name": name, "email": email})
            })
            .collect();
        let ctx = context! {
            members => serde_json::Value::Array(members).to_string(),
            can_write => shell.access.allows(Permission::Write),
            ..shell.ctx
        };
        Ok(CrmPage { access: shell.access, ctx })
    }

    /// Every pipeline of the workspace, by name.
    async fn pipelines(&self, state: &AppState) -> Result<Vec<Pipeline>, Response> {
        let mut list = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let listed = state
                .switchboard
                .pipelines(&self.access, Some(200), cursor.as_deref())
                .await
                .map_err(|e| state.pages.core_error(&e))?;
            list.extend(listed.items);
            match listed.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(list),
            }
        }
    }

    fn render(&self, state: &AppState, template: &str, ctx: Value) -> Response {
        state.pages.render(StatusCode::OK, template, context! { ..ctx, ..self.ctx.clone() })
    }
}

/// The page for a failed lookup of the object a page's address names: a 404 that says there
/// is no such `noun` here, or the error's own page.
fn lookup_failed(state: &AppState, error: &CoreError, noun: &str) -> Response {
    if !matches!(error, CoreError::NotFound(_)) {
        return state.pages.core_error(error);
    }
    let mut title = noun.to_owned();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    state.pages.error(
        StatusCode::NOT_FOUND,
        &format!("{title} not found"),
        &format!("This workspace has no {noun} at this address. It may have been deleted."),
    )
}
