//! `crm-bench seed`: creates a workspace (with members and a sales pipeline) in a data folder
//! and fills it through `sb-core`'s services, the path the API takes minus HTTP: organizations,
//! contacts, boxes with their links, a comment or a task on some, then email threads. Writes
//! the workspace id and its master key to `crm-bench.json` in the data folder.

mod phase;
mod shape;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use sb_core::{Access, BoxLinkKind, MessageDraft, Pipeline, Switchboard, TaskDraft};
use sb_types::{Role, Timestamp};
use serde_json::{Value, json};

use phase::retry;

/// Connections one `Switchboard` handle keeps to a workspace database (`sb-store`'s pool);
/// the seeder opens one handle per this many tasks.
const POOL_PER_HANDLE: usize = 4;

#[derive(clap::Args)]
pub(crate) struct SeedArgs {
    /// The data folder (created if missing).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// PostgreSQL URL of the control database; without it, SQLite files in the data folder.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    #[arg(long, default_value_t = 100_000)]
    boxes: usize,
    #[arg(long, default_value_t = 200_000)]
    contacts: usize,
    #[arg(long, default_value_t = 50_000)]
    organizations: usize,
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Tasks writing at once [default: 1 on SQLite, whose writes are serial; 16 on PostgreSQL].
    #[arg(long)]
    concurrency: Option<usize>,
}

/// What every seeding task shares.
struct Seeding {
    handles: Vec<Switchboard>,
    access: Access,
    pipeline: Pipeline,
    members: Vec<String>,
    organizations: usize,
    contacts: usize,
}

impl Seeding {
    fn handle(&self, item: usize) -> &Switchboard {
        &self.handles[item % self.handles.len()]
    }
}

pub(crate) async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let file = crate::seed_file(&args.data_dir);
    if let Ok(text) = std::fs::read_to_string(&file) {
        let seeded: Value = serde_json::from_str(&text).context("crm-bench.json is not JSON")?;
        if seeded["complete"] != json!(true) {
            bail!("an earlier seed of {} did not finish: delete the folder and seed again", file.display());
        }
        println!("Already seeded; reusing it:\n{seeded:#}");
        return Ok(());
    }
    if args.organizations == 0 || args.contacts == 0 || args.boxes == 0 {
        bail!("--organizations, --contacts and --boxes must be at least 1");
    }
    let config = sb_config::Config::load(sb_config::Options {
        data_dir: Some(args.data_dir.clone()),
        database_url: args.database_url.clone(),
        ..Default::default()
    })?;
    let postgres = matches!(config.database, sb_config::Database::Postgres(_));
    let concurrency = args.concurrency.unwrap_or(if postgres { 16 } else { 1 }).max(1);
    let mut handles = Vec::new();
    for _ in 0..concurrency.div_ceil(POOL_PER_HANDLE) {
        handles.push(Switchboard::open(&config).await.context("cannot open the data folder")?);
    }
    let first = handles[0].clone();
    let created = first.create_workspace(&format!("CRM bench {}", Timestamp::now().millis()), None).await?;
    let workspace = created.workspace.id;
    let access = first.operator_access(workspace).await?;
    let mut record = json!({
        "workspace": workspace.to_string(),
        "master_key": created.master.secret,
        "database": if postgres { "postgres" } else { "sqlite" },
        "complete": false,
    });
    std::fs::create_dir_all(&args.data_dir)?;
    std::fs::write(&file, format!("{record:#}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!("Workspace {workspace}, master key {}", created.master.secret);
    println!("(also in {})", file.display());

    let mut members = Vec::new();
    for member in 0..shape::MEMBERS {
        let email = shape::member_email(member);
        let user = first.create_user(&email, Some(format!("Member {member}").as_str()), None).await?;
        first.add_member(&access, &email, Role::Member).await?;
        members.push(user.id.to_string());
    }
    let pipeline = first.create_pipeline(&access, shape::pipeline()).await?;
    record["pipeline"] = json!(pipeline.id.to_string());
    println!(
        "Pipeline {} with {} stages; seeding with {concurrency} tasks",
        pipeline.id,
        pipeline.stages.len()
    );

    let seeding = Arc::new(Seeding {
        handles,
        access,
        pipeline,
        members,
        organizations: args.organizations,
        contacts: args.contacts,
    });
    let mut rates = serde_json::Map::new();
    let organizations = seed_organizations(&seeding, concurrency).await?;
    rates.insert("organizations_per_s".into(), json!(organizations.rate().round()));
    let contacts = seed_contacts(&seeding, concurrency).await?;
    rates.insert("contacts_per_s".into(), json!(contacts.rate().round()));
    let boxes = seed_boxes(
        &seeding,
        Arc::new(organizations.results),
        Arc::new(contacts.results),
        args.boxes,
        concurrency,
    )
    .await?;
    rates.insert("boxes_per_s".into(), json!(boxes.rate().round()));
    let messages = seed_threads(&seeding, boxes.results, args.messages, concurrency).await?;
    rates.insert("messages_per_s".into(), json!(messages.rate().round()));

    let seconds = organizations.elapsed + contacts.elapsed + boxes.elapsed + messages.elapsed;
    record["sizes"] = json!({
        "organizations": args.organizations,
        "contacts": args.contacts,
        "boxes": args.boxes,
        "messages": args.messages,
        "threads": messages.results.len(),
    });
    record["rates"] = Value::Object(rates);
    record["seconds"] = json!(seconds.as_secs_f64().round());
    record["concurrency"] = json!(concurrency);
    record["complete"] = json!(true);
    std::fs::write(&file, format!("{record:#}\n"))?;
    println!("Seeded in {:.0} s:\n{record:#}", seconds.as_secs_f64());
    for handle in &seeding.handles {
        handle.close().await;
    }
    Ok(())
}

async fn seed_organizations(
    seeding: &Arc<Seeding>,
    concurrency: usize,
) -> anyhow::Result<phase::Done<String>> {
    let shared = seeding.clone();
    let total = seeding.organizations;
    phase::run("organizations", total, total as u64, concurrency, move |i| {
        let s = shared.clone();
        async move {
            let draft = shape::organization(i);
            let made = retry!(s.handle(i).create_organization(&s.access, draft.clone()).await)?;
            Ok((made.id.to_string(), 1))
        }
    })
    .await
}

async fn seed_contacts(seeding: &Arc<Seeding>, concurrency: usize) -> anyhow::Result<phase::Done<String>> {
    let shared = seeding.clone();
    let total = seeding.contacts;
    phase::run("contacts", total, total as u64, concurrency, move |i| {
        let s = shared.clone();
        async move {
            let draft = shape::contact(i, s.organizations);
            let made = retry!(s.handle(i).create_contact(&s.access, draft.clone()).await)?;
            Ok((made.id.to_string(), 1))
        }
    })
    .await
}

/// Boxes, each linked to its organization and contact; every fifth gets a comment and the one
/// after it a task. Answers each box's id and organization.
async fn seed_boxes(
    seeding: &Arc<Seeding>,
    organizations: Arc<Vec<String>>,
    contacts: Arc<Vec<String>>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<phase::Done<(String, usize)>> {
    let shared = seeding.clone();
    phase::run("boxes", total, total as u64, concurrency, move |i| {
        let (s, organizations, contacts) = (shared.clone(), organizations.clone(), contacts.clone());
        async move {
            let sb = s.handle(i);
            let plan = shape::crm_box(i, &s.pipeline, &s.members, (s.organizations, s.contacts));
            let pipeline = s.pipeline.id.to_string();
            let made = retry!(sb.create_box(&s.access, &pipeline, plan.draft.clone()).await)?;
            let id = made.id.to_string();
            let organization = &organizations[plan.organization];
            retry!(sb.link_box(&s.access, &id, BoxLinkKind::Organization, organization, true).await)?;
            if let Some(contact) = plan.contact {
                let contact = &contacts[contact];
                retry!(sb.link_box(&s.access, &id, BoxLinkKind::Contact, contact, true).await)?;
            }
            match i % 5 {
                0 => {
                    let text = shape::comment(i);
                    retry!(sb.add_comment(&s.access, &id, &text).await)?;
                }
                1 => {
                    let (text, due) = shape::task(i);
                    let draft = TaskDraft { text, due_date: Some(due), assignees: Vec::new() };
                    retry!(sb.create_task(&s.access, &id, draft.clone()).await)?;
                }
                _ => {}
            }
            Ok(((id, plan.organization), 1))
        }
    })
    .await
}

/// Email threads adding up to `messages` messages, each thread written by one task in order.
async fn seed_threads(
    seeding: &Arc<Seeding>,
    boxes: Vec<(String, usize)>,
    messages: usize,
    concurrency: usize,
) -> anyhow::Result<phase::Done<()>> {
    let mut by_organization: Vec<Vec<String>> = vec![Vec::new(); seeding.organizations];
    for (id, organization) in boxes {
        by_organization[organization].push(id);
    }
    let by_organization = Arc::new(by_organization);
    let lengths = Arc::new(shape::thread_lengths(messages));
    let shared = seeding.clone();
    let threads = lengths.len();
    phase::run("messages", threads, messages as u64, concurrency, move |t| {
        let (s, lengths, by_organization) = (shared.clone(), lengths.clone(), by_organization.clone());
        async move {
            let sb = s.handle(t);
            let mut plan = shape::thread(t, lengths.len(), (s.organizations, s.contacts));
            let organization = shape::organization_of(plan.contact, s.organizations);
            let file_on = by_organization[organization].first().filter(|_| plan.filed).cloned();
            let length = usize::from(lengths[t]);
            for n in 0..length {
                let (message_id, participants, body, sent_at) = plan.message(t, n, s.organizations);
                let references: Vec<String> = (0..n).map(|m| shape::message_id(t, m)).collect();
                let subject = if n == 0 { plan.subject.clone() } else { format!("Re: {}", plan.subject) };
                let draft = MessageDraft {
                    message_id,
                    in_reply_to: references.last().cloned(),
                    references,
                    subject,
                    sent_at: sent_at.to_string(),
                    participants,
                    body,
                    file_on: if n == 0 { file_on.clone() } else { None },
                };
                retry!(sb.add_message(&s.access, draft.clone()).await)?;
            }
            Ok(((), length as u64))
        }
    })
    .await
}
