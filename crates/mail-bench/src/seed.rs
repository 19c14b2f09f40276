//! Seeding: a data folder with a workspace of `members` members and check-ins on, every day a
//! workday, in UTC, with today's prompt already due; and starting the server on it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use sb_core::{CheckinSettingsPatch, Switchboard};
use sb_types::{Role, UserId, WorkspaceId};

/// The domain every seeded member's address is at.
pub(crate) const DOMAIN: &str = "bench.test";

/// What seeding made.
pub(crate) struct Seeded {
    pub workspace: WorkspaceId,
    /// Each member's id and address.
    pub members: Vec<(UserId, String)>,
}

fn config(data_dir: &Path) -> anyhow::Result<sb_config::Config> {
    let options = sb_config::Options { data_dir: Some(data_dir.to_owned()), ..sb_config::Options::default() };
    Ok(sb_config::Config::load(options)?)
}

/// Seeds a fresh `data_dir` (refuses one that holds anything).
pub(crate) async fn seed(data_dir: &Path, members: usize) -> anyhow::Result<Seeded> {
    if data_dir.exists() && std::fs::read_dir(data_dir)?.next().is_some() {
        anyhow::bail!("{} is not empty: give a fresh data folder", data_dir.display());
    }
    let started = Instant::now();
    let switchboard = Switchboard::open(&config(data_dir)?).await?;
    let first = switchboard.first_start(&format!("owner@{DOMAIN}")).await?.context("not a first start")?;
    let created = first.workspace.context("no first workspace")?;
    let access = switchboard.operator_access(created.workspace.id).await?;
    for i in 1..members {
        let email = format!("m{i:06}@{DOMAIN}");
        switchboard.create_user(&email, Some(&format!("Member {i}")), None).await?;
        switchboard.add_member(&access, &email, Role::Member).await?;
    }
    let now = chrono::Utc::now().time();
    let due = now.overflowing_sub_signed(chrono::Duration::minutes(2)).0.min(now);
    let patch = CheckinSettingsPatch {
        enabled: Some(true),
        timezone: Some("UTC".into()),
        prompt_time: Some(due.format("%H:%M").to_string()),
        digest_time: Some("23:59".into()),
        workdays: Some("1234567".into()),
        ..CheckinSettingsPatch::default()
    };
    switchboard.update_checkin_settings(&access, patch).await?;
    let ids = switchboard
        .members(&access)
        .await?
        .into_iter()
        .map(|m| (m.user.id, m.user.email.to_string()))
        .collect();
    switchboard.close().await;
    eprintln!("seeded {members} members in {:.1} s", started.elapsed().as_secs_f64());
    Ok(Seeded { workspace: created.workspace.id, members: ids })
}

/// A running server, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bin serve` on `data_dir` with `args`, and waits until it serves.
pub(crate) fn start(bin: &PathBuf, data_dir: &Path, args: &[String]) -> anyhow::Result<Server> {
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line)? == 0 {
            anyhow::bail!("the server exited before serving");
        }
        if let Some(rest) = line.strip_prefix("Switchboard is serving at http://") {
            let address = rest.split('/').next().unwrap_or_default().to_owned();
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return Ok(Server { child, address });
        }
    }
}
