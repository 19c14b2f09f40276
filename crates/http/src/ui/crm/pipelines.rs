//! The pipeline pages: the list with its create form, a pipeline's board (a column per stage,
//! boxes dragged between them) and its table (sortable columns, fields edited in place).

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;

use super::{CrmPage, lookup_failed};
use crate::AppState;
use crate::auth::SignedIn;

/// `/w/{id}/pipelines`: every pipeline by name, with its stages, and a form to create one.
pub(crate) async fn pipelines(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let page = match CrmPage::open(&state, &session, &id, "pipelines").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let list = match page.pipelines(&state).await {
        Ok(list) => list,
        Err(response) => return response,
    };
    let pipelines: Vec<_> = list
        .iter()
        .map(|p| {
            let stages: Vec<_> =
                p.stages.iter().map(|s| context! { name => &s.name, color => &s.color }).collect();
            context! {
                id => p.id.to_string(),
                name => &p.name,
                description => &p.description,
                stages,
                field_count => p.fields.len(),
            }
        })
        .collect();
    page.render(&state, "pipelines.html", context! { pipelines })
}

/// `/w/{id}/pipelines/{pipeline}`: the board.
pub(crate) async fn board(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, pipeline)): Path<(String, String)>,
) -> Response {
    pipeline_page(&state, &session, &id, &pipeline, "pipeline_board.html").await
}

/// `/w/{id}/pipelines/{pipeline}/table`: the table.
pub(crate) async fn table(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, pipeline)): Path<(String, String)>,
) -> Response {
    pipeline_page(&state, &session, &id, &pipeline, "pipeline_table.html").await
}

async fn pipeline_page(
    state: &AppState,
    session: &sb_core::SessionView,
    id: &str,
    pipeline: &str,
    template: &str,
) -> Response {
    let page = match CrmPage::open(state, session, id, "pipelines").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let pipeline = match state.switchboard.pipeline(&page.access, pipeline).await {
        Ok(pipeline) => pipeline,
        Err(e) => return lookup_failed(state, &e, "pipeline"),
    };
    page.render(
        state,
        template,
        context! { pipeline => context! { id => pipeline.id.to_string(), name => pipeline.name } },
    )
}
