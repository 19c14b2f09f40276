//! Before the measured run: the pipeline, and samples of box, contact, organization and
//! thread ids read through the API (box, contact and organization pages by name, threads
//! newest first), with the first message of some threads to reply to.

use anyhow::{Context, bail};
use serde_json::Value;

use super::Api;

/// Pages of 200 read per list.
const PAGES: usize = 10;
/// Threads whose first message is read, for the replies the load writes.
const REPLY_THREADS: usize = 200;

/// A thread the load replies to: its first message and its two sides.
pub(crate) struct ReplyTarget {
    pub root: String,
    pub subject: String,
    pub contact: String,
    pub member: String,
}

/// The ids the load picks from.
pub(crate) struct Sample {
    pub pipeline: String,
    pub stages: Vec<String>,
    /// The number field the PATCHes change.
    pub amount_field: String,
    pub boxes: Vec<String>,
    pub contacts: Vec<String>,
    pub organizations: Vec<String>,
    pub threads: Vec<String>,
    pub replies: Vec<ReplyTarget>,
}

fn ids(page: &Value, list: &str) -> Vec<String> {
    page[list]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The ids of up to `PAGES` pages of the list at `path` (whose items are under `list`).
async fn sample(api: &Api, path: &str, list: &str) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..PAGES {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(cursor) => format!("{path}{separator}limit=200&cursor={cursor}"),
            None => format!("{path}{separator}limit=200"),
        };
        let page = api.get_json(&url).await?;
        found.extend(ids(&page, list));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    if found.is_empty() {
        bail!("{path} lists nothing: seed the workspace first");
    }
    Ok(found)
}

fn address(message: &Value, role: &str) -> Option<String> {
    message["participants"]
        .as_array()?
        .iter()
        .find(|p| p["role"] == role)
        .and_then(|p| p["email"].as_str())
        .map(str::to_owned)
}

pub(crate) async fn discover(api: &Api) -> anyhow::Result<Sample> {
    let pipelines = api.get_json("/pipelines").await?;
    let pipeline = pipelines["pipelines"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "Sales").or_else(|| all.first()))
        .cloned()
        .context("the workspace has no pipeline: seed it first")?;
    let pipeline_id = pipeline["id"].as_str().context("pipeline without id")?.to_owned();
    let stages = ids(&pipeline, "stages");
    let amount_field = pipeline["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["type"] == "number"))
        .and_then(|f| f["id"].as_str())
        .context("the pipeline has no number field")?
        .to_owned();
    let boxes = sample(api, &format!("/pipelines/{pipeline_id}/boxes?sort=name"), "boxes").await?;
    let contacts = sample(api, "/contacts", "contacts").await?;
    let organizations = sample(api, "/organizations", "organizations").await?;
    let threads = sample(api, "/threads", "threads").await?;
    let mut replies = Vec::new();
    for thread in threads.iter().take(REPLY_THREADS) {
        let shown = api.get_json(&format!("/threads/{thread}")).await?;
        let Some(first) = shown["messages"].as_array().and_then(|m| m.first()) else { continue };
        let (Some(from), Some(to)) = (address(first, "from"), address(first, "to")) else { continue };
        let member_first = from.ends_with("@team.example");
        replies.push(ReplyTarget {
            root: first["message_id"].as_str().unwrap_or_default().to_owned(),
            subject: shown["subject"].as_str().unwrap_or_default().to_owned(),
            contact: if member_first { to.clone() } else { from.clone() },
            member: if member_first { from } else { to },
        });
    }
    if replies.is_empty() {
        bail!("no thread to reply to: seed messages first");
    }
    println!(
        "Sampled {} boxes, {} contacts, {} organizations, {} threads ({} to reply to) of pipeline {pipeline_id}",
        boxes.len(),
        contacts.len(),
        organizations.len(),
        threads.len(),
        replies.len()
    );
    Ok(Sample {
        pipeline: pipeline_id,
        stages,
        amount_field,
        boxes,
        contacts,
        organizations,
        threads,
        replies,
    })
}
