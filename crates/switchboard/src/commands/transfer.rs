//! `switchboard import` and `switchboard export`: CSV into the CRM, with a dry run, a progress
//! bar on stderr and resuming a stopped run; every record out as CSV or JSON.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Args;
use sb_core::{ExportFormat, ImportKind, ImportReport, ImportRequest};

use crate::output;

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// What the file holds: contacts, organizations or boxes.
    kind: String,
    /// The CSV file, with a heading row.
    file: std::path::PathBuf,
    /// The workspace id.
    #[arg(long)]
    workspace: String,
    /// The pipeline the boxes go to (boxes only).
    #[arg(long)]
    pipeline: Option<String>,
    /// A column's attribute, as Heading=attribute (name, email, phone, address, title, domain,
    /// custom.KEY; for boxes name, notes, stage, assignee, follower or a field's name; - to
    /// skip the column). Repeat for several columns.
    #[arg(long = "map", value_name = "HEADING=ATTRIBUTE")]
    mapping: Vec<String>,
    /// Check every row and report what would change, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Go on from where the last unfinished import of this same file stopped.
    #[arg(long)]
    resume: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// What to export: contacts, organizations or boxes.
    kind: String,
    /// The workspace id.
    #[arg(long)]
    workspace: String,
    /// The pipeline whose boxes to export (boxes only).
    #[arg(long)]
    pipeline: Option<String>,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
}

/// Draws `[#####     ]  52%  5,200/10,000 rows` on stderr, in place.
fn draw(done: usize, total: usize) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\r[{}{}] {percent:>3}%  {done}/{total} rows",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    let _ = err.flush();
}

fn print_report(report: &ImportReport) {
    let what = if report.dry_run { "would be" } else { "were" };
    println!(
        "{} rows read ({} from row {}): {} {what} created, {} updated, {} unchanged.",
        report.total_rows,
        if report.resumed_from > 0 { "resumed" } else { "started" },
        report.resumed_from + 1,
        report.created,
        report.updated,
        report.unchanged
    );
    if !report.ignored_columns.is_empty() {
        println!("Ignored columns: {}", report.ignored_columns.join(", "));
    }
    for error in &report.errors {
        println!("  line {}: {}", error.line, error.message);
    }
    if report.error_count > report.errors.len() {
        println!("  … and {} more rows with errors", report.error_count - report.errors.len());
    }
}

pub(crate) async fn import(config: sb_config::Config, args: ImportArgs) -> anyhow::Result<()> {
    let switchboard = super::open(&config).await?;
    let access = switchboard.operator_access(super::workspace_id(&args.workspace)?).await?;
    let csv = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut mapping = Vec::new();
    for pair in &args.mapping {
        let Some((heading, attribute)) = pair.split_once('=') else {
            bail!("--map {pair:?} is not HEADING=ATTRIBUTE");
        };
        mapping.push((heading.to_owned(), attribute.to_owned()));
    }
    let request = ImportRequest {
        kind: ImportKind::parse(&args.kind)?,
        pipeline: args.pipeline,
        source: args.file.display().to_string(),
        csv,
        mapping,
        dry_run: args.dry_run,
        resume: args.resume,
    };
    let show_progress = !args.json && !args.dry_run;
    let mut progress = |done: usize, total: usize| {
        if show_progress {
            draw(done, total);
        }
    };
    let report = switchboard.import_csv(&access, request, &mut progress).await;
    if show_progress {
        eprintln!();
    }
    let report = report?;
    if args.json {
        output::json(&report.to_json());
    } else {
        print_report(&report);
    }
    match report.state {
        "refused" => bail!("{} rows have errors; nothing was imported", report.error_count),
        "stopped" => bail!("the import stopped after {} rows: {}", report.rows_done, report.message),
        _ => Ok(()),
    }
}

pub(crate) async fn export(config: sb_config::Config, args: ExportArgs) -> anyhow::Result<()> {
    let switchboard = super::open(&config).await?;
    let access = switchboard.operator_access(super::workspace_id(&args.workspace)?).await?;
    let kind = ImportKind::parse(&args.kind)?;
    let format = ExportFormat::parse(&args.format)?;
    let text = switchboard.export(&access, kind, args.pipeline.as_deref(), format).await?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => print!("{text}"),
    }
    Ok(())
}
