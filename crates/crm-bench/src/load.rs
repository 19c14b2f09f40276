//! `crm-bench load`: drives a running server's CRM API from `--concurrency` tasks for
//! `--seconds` (after `--warmup` seconds not counted), each picking one operation at a time:
//! 70% of the requests read (board pages, box pages of four requests, the three context
//! queries) and 30% write (a box's stage or amount under its version, a comment, a task, a
//! reply in a thread). Prints a Markdown table of the figures per request kind.

mod discover;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{SeedableRng, thread_rng};
use reqwest::{Method, StatusCode};
use sb_types::Timestamp;
use serde_json::{Value, json};

use discover::Sample;
use report::{Kind, Recorder};

#[derive(clap::Args)]
pub(crate) struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:8700.
    #[arg(long)]
    url: String,
    /// A master key of the workspace (`crm-bench.json` in the seeded folder holds one).
    #[arg(long)]
    key: String,
    /// The workspace id.
    #[arg(long)]
    workspace: String,
    /// Seconds measured.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds of load before the measurement starts (connections, caches).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Requests in flight at once (one task each, over keep-alive connections).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// The operations and their weights. A box page is four requests, so these weights make 70%
/// of the requests reads and 30% writes: 14 + 6×4 + 16 + 8 + 8 = 70 reads and 9 + 7 + 7 + 7 = 30
/// writes per 82 operations.
#[derive(Clone, Copy)]
enum Operation {
    Board,
    BoxPage,
    ThreadContext,
    ContactThreads,
    OrganizationBoxes,
    MoveOrEdit,
    Comment,
    Task,
    Reply,
}

const MIX: &[(Operation, u32)] = &[
    (Operation::Board, 14),
    (Operation::BoxPage, 6),
    (Operation::ThreadContext, 16),
    (Operation::ContactThreads, 8),
    (Operation::OrganizationBoxes, 8),
    (Operation::MoveOrEdit, 9),
    (Operation::Comment, 7),
    (Operation::Task, 7),
    (Operation::Reply, 7),
];

/// The workspace's API, with the key on every request.
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    authorization: String,
}

impl Api {
    /// Sends a request and reads the whole answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.authorization);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(serde_json::to_vec(body)?);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.send(Method::GET, path, None).await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// What the workers share.
struct Load {
    api: Api,
    sample: Sample,
    /// The last version seen of each box, so a PATCH needs no read first.
    versions: Mutex<HashMap<String, i64>>,
}

/// One worker: its random numbers, its measurements and when they start to count.
struct Worker {
    load: Arc<Load>,
    rng: StdRng,
    recorder: Recorder,
    measure_from: Instant,
    id: usize,
    sent: u64,
}

pub(crate) async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = Api {
        client,
        base: format!("{}/api/v1/workspaces/{}", args.url.trim_end_matches('/'), args.workspace),
        authorization: format!("Bearer {}", args.key),
    };
    let sample = discover::discover(&api).await.context("cannot read the workspace")?;
    let load = Arc::new(Load { api, sample, versions: Mutex::default() });
    let measure_from = Instant::now() + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.seconds);
    println!("Load: {} tasks, {} s warm-up, {} s measured", args.concurrency, args.warmup, args.seconds);
    let mut workers = Vec::new();
    for id in 0..args.concurrency.max(1) {
        let mut worker = Worker {
            load: load.clone(),
            rng: StdRng::from_rng(thread_rng())?,
            recorder: Recorder::default(),
            measure_from,
            id,
            sent: 0,
        };
        workers.push(tokio::spawn(async move {
            while Instant::now() < end {
                worker.operate().await?;
            }
            anyhow::Ok(worker.recorder)
        }));
    }
    let mut all = Recorder::default();
    for worker in workers {
        all.merge(worker.await.context("a load task panicked")??);
    }
    all.print(Duration::from_secs(args.seconds));
    Ok(())
}

impl Worker {
    fn pick<'a>(&mut self, ids: &'a [String]) -> &'a str {
        ids.choose(&mut self.rng).map_or("", String::as_str)
    }

    /// Sends one request and records it once the warm-up is over; answers the status and body.
    async fn request(
        &mut self,
        kind: Kind,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let started = Instant::now();
        let (status, answer) = self.load.api.send(method, path, body.as_ref()).await?;
        if started >= self.measure_from {
            self.recorder.record(kind, started.elapsed(), status.is_success());
        }
        Ok((status, answer))
    }

    async fn operate(&mut self) -> anyhow::Result<()> {
        let load = self.load.clone();
        let sample = &load.sample;
        let operation = MIX.choose_weighted(&mut self.rng, |(_, weight)| *weight).map(|(o, _)| *o)?;
        match operation {
            Operation::Board => {
                let stage = self.pick(&sample.stages).to_owned();
                let path = format!("/pipelines/{}/boxes?stage={stage}&limit=50", sample.pipeline);
                self.request(Kind::Board, Method::GET, &path, None).await?;
            }
            Operation::BoxPage => {
                let id = self.pick(&sample.boxes).to_owned();
                self.read_box(&id).await?;
                for (kind, tail) in [
                    (Kind::BoxTimeline, "timeline"),
                    (Kind::BoxThreads, "threads"),
                    (Kind::BoxComments, "comments"),
                ] {
                    self.request(kind, Method::GET, &format!("/boxes/{id}/{tail}"), None).await?;
                }
            }
            Operation::ThreadContext => {
                let path = format!("/threads/{}/boxes", self.pick(&sample.threads));
                self.request(Kind::ThreadBoxes, Method::GET, &path, None).await?;
            }
            Operation::ContactThreads => {
                let path = format!("/contacts/{}/threads", self.pick(&sample.contacts));
                self.request(Kind::ContactThreads, Method::GET, &path, None).await?;
            }
            Operation::OrganizationBoxes => {
                let path = format!("/organizations/{}/boxes", self.pick(&sample.organizations));
                self.request(Kind::OrganizationBoxes, Method::GET, &path, None).await?;
            }
            Operation::MoveOrEdit => {
                let id = self.pick(&sample.boxes).to_owned();
                self.move_or_edit(&id).await?;
            }
            Operation::Comment => {
                let path = format!("/boxes/{}/comments", self.pick(&sample.boxes));
                let body = json!({"body": "Spoke with them today; they want a revised quote by Friday."});
                self.request(Kind::CommentCreate, Method::POST, &path, Some(body)).await?;
            }
            Operation::Task => {
                let path = format!("/boxes/{}/tasks", self.pick(&sample.boxes));
                let due = Timestamp::now().plus_seconds(self.rng.gen_range(0..30) * 86_400).to_string();
                let body = json!({"text": "Send the revised quote", "due_date": &due[..10]});
                self.request(Kind::TaskCreate, Method::POST, &path, Some(body)).await?;
            }
            Operation::Reply => self.reply().await?,
        }
        Ok(())
    }

    /// Reads a box and remembers its version; answers it.
    async fn read_box(&mut self, id: &str) -> anyhow::Result<Option<i64>> {
        let (status, body) = self.request(Kind::BoxRead, Method::GET, &format!("/boxes/{id}"), None).await?;
        if !status.is_success() {
            return Ok(None);
        }
        let version = serde_json::from_slice::<Value>(&body)?["version"].as_i64();
        if let Some(version) = version {
            self.load.versions.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned(), version);
        }
        Ok(version)
    }

    /// Moves a box to another stage or changes its amount, with the last version seen; a 409
    /// (someone else changed it) reads it again and retries once.
    async fn move_or_edit(&mut self, id: &str) -> anyhow::Result<()> {
        let known = self.load.versions.lock().unwrap_or_else(PoisonError::into_inner).get(id).copied();
        let Some(mut version) = (match known {
            Some(version) => Some(version),
            None => self.read_box(id).await?,
        }) else {
            return Ok(());
        };
        let load = self.load.clone();
        let sample = &load.sample;
        let mut change = if self.rng.gen_bool(0.5) {
            json!({"stage": self.pick(&sample.stages)})
        } else {
            let mut fields = serde_json::Map::new();
            fields.insert(sample.amount_field.clone(), json!(self.rng.gen_range(1..500) * 100));
            json!({"fields": fields})
        };
        for attempt in 0..2 {
            change["version"] = json!(version);
            let path = format!("/boxes/{id}");
            let (status, body) =
                self.request(Kind::BoxPatch, Method::PATCH, &path, Some(change.clone())).await?;
            if status == StatusCode::CONFLICT && attempt == 0 {
                self.recorder.conflicts += 1;
                match self.read_box(id).await? {
                    Some(current) => version = current,
                    None => return Ok(()),
                }
                continue;
            }
            if status.is_success()
                && let Some(new) = serde_json::from_slice::<Value>(&body)?["version"].as_i64()
            {
                self.load.versions.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned(), new);
            }
            return Ok(());
        }
        Ok(())
    }

    /// A member's reply in a seeded thread, naming the thread's first message.
    async fn reply(&mut self) -> anyhow::Result<()> {
        let load = self.load.clone();
        let Some(target) = load.sample.replies.choose(&mut self.rng) else { return Ok(()) };
        self.sent += 1;
        let body = json!({
            "message_id": format!("load.{}.{}.{}@mail.bench.example", Timestamp::now().millis(), self.id, self.sent),
            "in_reply_to": target.root,
            "references": [target.root],
            "subject": format!("Re: {}", target.subject),
            "sent_at": Timestamp::now().to_string(),
            "from": target.member,
            "to": target.contact,
            "body": "Thanks, I have updated the quote and attached it here.",
        });
        self.request(Kind::MessageCreate, Method::POST, "/messages", Some(body)).await?;
        Ok(())
    }
}
