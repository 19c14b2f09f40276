//! CSV import of contacts, organizations and boxes. The whole file is read and every row
//! checked before anything is written: broken quoting, too many rows or a bad value refuses
//! the import and changes nothing. Rows are matched to what exists by a natural key (a
//! contact by any of its addresses, else its name; an organization by any of its domains,
//! else its name; a box by its name in the pipeline) and update it, so running a file twice
//! creates nothing twice. A run records its progress; one that stops part way (an error, a
//! crash) is resumed from the row it reached by running the same file again with `resume`.
//! A dry run reports what would change and writes nothing. `import/plans.rs` turns one row
//! into a plan per kind.

mod plans;

use std::collections::HashMap;

use sb_store::ImportRecord;
use sb_types::Timestamp;
use sha2::{Digest, Sha256};

use crate::{Access, CoreError, Permission, Switchboard};
use plans::{Plan, Target};

/// Most rows one file may have.
pub const IMPORT_ROWS_MAX: usize = 1_000_000;
/// Most bytes one file may have.
pub const IMPORT_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Most row errors a report lists (all are counted).
const ERRORS_LISTED: usize = 100;
/// Rows between two progress records.
const PROGRESS_EVERY: usize = 100;
/// How long a running import must have saved no progress before another run may take it over
/// (a live one saves every `PROGRESS_EVERY` rows, well under a second apart).
const RESUME_AFTER_SECONDS: i64 = 5;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Contacts,
    Organizations,
    Boxes,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Contacts => "contacts",
            ImportKind::Organizations => "organizations",
            ImportKind::Boxes => "boxes",
        }
    }

    /// Parses `contacts`, `organizations` or `boxes`.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        match text {
            "contacts" => Ok(ImportKind::Contacts),
            "organizations" => Ok(ImportKind::Organizations),
            "boxes" => Ok(ImportKind::Boxes),
            other => Err(CoreError::Invalid(format!(
                "unknown kind {other:?}; expected contacts, organizations or boxes"
            ))),
        }
    }
}

/// An import to run.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub kind: ImportKind,
    /// The pipeline boxes go to (boxes only).
    pub pipeline: Option<String>,
    /// The file's name, for the record of the run.
    pub source: String,
    pub csv: Vec<u8>,
    /// Column heading -> attribute (`name`, `email`, `custom.tier`, a field's name, …; `-`
    /// ignores the column). Headings not named here are matched by their own name.
    pub mapping: Vec<(String, String)>,
    pub dry_run: bool,
    /// Go on from where the last unfinished run of this same file stopped.
    pub resume: bool,
}

/// A row that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file the row starts on (the heading is line 1).
    pub line: usize,
    pub message: String,
}

/// What an import did, or (dry run) would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The run's id (none for a dry run or a refused file).
    pub id: Option<String>,
    pub kind: ImportKind,
    pub dry_run: bool,
    /// `dry_run`, `refused` (row errors; nothing written), `done`, or `stopped` (resumable).
    pub state: &'static str,
    pub total_rows: usize,
    /// The row a resumed run started from (0 from the top).
    pub resumed_from: usize,
    pub rows_done: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// How many rows have errors, and the first of them.
    pub error_count: usize,
    pub errors: Vec<RowError>,
    /// Headings no attribute was found for.
    pub ignored_columns: Vec<String>,
    /// Why a run stopped, empty otherwise.
    pub message: String,
}

/// A row as read: the line it starts on, and its cells in heading order.
type RawRow = (usize, Vec<String>);

impl ImportReport {
    /// The report as the API and the CLI print it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "dry_run": self.dry_run,
            "state": self.state,
            "total_rows": self.total_rows,
            "resumed_from": self.resumed_from,
            "rows_done": self.rows_done,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "error_count": self.error_count,
            "errors": self.errors.iter().map(|e| serde_json::json!({"line": e.line, "message": e.message})).collect::<Vec<_>>(),
            "ignored_columns": self.ignored_columns,
            "message": self.message,
        })
    }
}

/// One data row: its line, and its cells by attribute.
pub(super) struct Row {
    pub(super) line: usize,
    pub(super) cells: Vec<(String, String)>,
}

impl Row {
    /// The non-empty cells of `attribute`, trimmed.
    pub(super) fn values(&self, attribute: &str) -> impl Iterator<Item = &str> {
        self.cells
            .iter()
            .filter(move |(a, _)| a == attribute)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn first(&self, attribute: &str) -> Option<&str> {
        self.values(attribute).next()
    }
}

/// A heading as written, reduced to compare with attribute names: lower case, words joined
/// by nothing (`E-mail address` → `emailaddress`).
fn folded(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The line where a quoted field opens that the file never closes, if one does. A field is
/// quoted when it starts with `"`; inside it `""` is a quote; a `"` inside an unquoted field is
/// just a character (as the CSV reader takes it).
fn unclosed_quote(text: &[u8]) -> Option<usize> {
    let (mut line, mut opened) = (1, 0);
    let (mut quoted, mut field_start) = (false, true);
    let mut bytes = text.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if byte == b'\n' {
            line += 1;
        }
        match (quoted, byte) {
            (false, b'"') if field_start => {
                quoted = true;
                opened = line;
                field_start = false;
            }
            (false, b',' | b'\n') => field_start = true,
            (false, b'\r') => {}
            (false, _) => field_start = false,
            (true, b'"') if bytes.peek() == Some(&&b'"') => {
                bytes.next();
            }
            (true, b'"') => quoted = false,
            (true, _) => {}
        }
    }
    quoted.then_some(opened)
}

/// Reads the file: its headings and rows. Broken quoting, an uneven row, too many rows or
/// bytes are a clear error naming the line.
fn read(csv_bytes: &[u8]) -> Result<(Vec<String>, Vec<RawRow>), CoreError> {
    if csv_bytes.len() > IMPORT_BYTES_MAX {
        return Err(CoreError::Invalid(format!(
            "the file is {} bytes; the limit is {IMPORT_BYTES_MAX}: split it",
            csv_bytes.len()
        )));
    }
    let text = csv_bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv_bytes);
    if let Some(line) = unclosed_quote(text) {
        return Err(CoreError::Invalid(format!(
            "line {line}: a quoted field opens there and is never closed; nothing was imported"
        )));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text);
    let broken = |e: csv::Error| {
        let line = e.position().map_or(String::new(), |p| format!("line {}: ", p.line()));
        CoreError::Invalid(format!("{line}the file is not valid CSV ({e}); nothing was imported"))
    };
    let headings: Vec<String> =
        reader.headers().map_err(broken)?.iter().map(|h| h.trim().to_owned()).collect();
    if headings.iter().all(String::is_empty) {
        return Err(CoreError::Invalid("the file has no heading row; nothing was imported".into()));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(broken)?;
        if rows.len() == IMPORT_ROWS_MAX {
            return Err(CoreError::Invalid(format!(
                "the file has more than {IMPORT_ROWS_MAX} rows; split it; nothing was imported"
            )));
        }
        let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok((headings, rows))
}

impl Switchboard {
    /// Runs `request`; `progress` hears (rows done, total) as rows are written.
    pub async fn import_csv(
        &self,
        access: &Access,
        request: ImportRequest,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<ImportReport, CoreError> {
        access.require(Permission::Write)?;
        let target = match request.kind {
            ImportKind::Boxes => {
                let id = request.pipeline.as_deref().ok_or_else(|| {
                    CoreError::Invalid("a box import needs the pipeline the boxes go to".into())
                })?;
                Target::Boxes(Box::new(self.pipeline(access, id).await?))
            }
            ImportKind::Contacts if request.pipeline.is_none() => Target::Contacts,
            ImportKind::Organizations if request.pipeline.is_none() => Target::Organizations,
            _ => return Err(CoreError::Invalid("only a box import takes a pipeline".into())),
        };
        // Parsing and hashing up to 256 MiB is CPU work: off the async reactor.
        let csv = request.csv;
        let read_whole = tokio::task::spawn_blocking(move || {
            read(&csv).map(|(headings, rows)| (headings, rows, hex::encode(Sha256::digest(&csv))))
        });
        let (headings, raw_rows, content_hash) = read_whole
            .await
            .map_err(|e| CoreError::Unavailable(format!("the file could not be read: {e}")))??;
        let explicit: HashMap<String, String> = request
            .mapping
            .iter()
            .map(|(column, attribute)| (folded(column), attribute.trim().to_owned()))
            .collect();
        let mut attributes = Vec::with_capacity(headings.len());
        let mut ignored_columns = Vec::new();
        for heading in &headings {
            let asked = explicit.get(&folded(heading)).map(String::as_str);
            match target.attribute(asked.unwrap_or(heading), asked.is_some())? {
                Some(attribute) => attributes.push(Some(attribute)),
                None => {
                    ignored_columns.push(heading.clone());
                    attributes.push(None);
                }
            }
        }
        let rows: Vec<Row> = raw_rows
            .into_iter()
            .map(|(line, cells)| Row {
                line,
                cells: attributes
                    .iter()
                    .zip(cells)
                    .filter_map(|(attribute, cell)| attribute.clone().map(|a| (a, cell)))
                    .collect(),
            })
            .collect();

        let db = self.store().workspace_db(access.workspace()).await?;
        let target_id = target.id();
        let earlier = match request.resume {
            true => db.unfinished_import(request.kind.as_str(), &target_id, &content_hash).await?,
            false => None,
        };
        if request.resume && earlier.is_none() {
            return Err(CoreError::Invalid(
                "there is no unfinished import of this file to resume; run it without resume".into(),
            ));
        }
        let start = earlier.as_ref().map_or(0, |run| usize::try_from(run.rows_done).unwrap_or(0));
        let mut report = ImportReport {
            id: None,
            kind: request.kind,
            dry_run: request.dry_run,
            state: "dry_run",
            total_rows: rows.len(),
            resumed_from: start,
            rows_done: start,
            created: 0,
            updated: 0,
            unchanged: 0,
            error_count: 0,
            errors: Vec::new(),
            ignored_columns,
            message: String::new(),
        };

        // Check every row first; a dry run counts what the plans would do.
        let mut planned = plans::Planner::new(self, access, &target).await?;
        for row in rows.iter().skip(start) {
            match planned.plan(row).await {
                Ok(Plan::Create(_)) => report.created += 1,
                Ok(Plan::Update(..)) => report.updated += 1,
                Ok(Plan::Unchanged) => report.unchanged += 1,
                Err(message) => {
                    report.error_count += 1;
                    if report.errors.len() < ERRORS_LISTED {
                        report.errors.push(RowError { line: row.line, message });
                    }
                }
            }
        }
        if request.dry_run {
            return Ok(report);
        }
        if report.error_count > 0 {
            report.state = "refused";
            return Ok(report);
        }

        let now = Timestamp::now();
        let mut run = match earlier {
            Some(run) => {
                // One resumer at a time, and never beside the run itself.
                let stale_before = now.plus_seconds(-RESUME_AFTER_SECONDS);
                if !db.claim_import(&run.id, stale_before, now).await? {
                    return Err(CoreError::Conflict(format!(
                        "this import is still running (it saved progress less than {RESUME_AFTER_SECONDS} \
                         seconds ago); resume it once it has stopped"
                    )));
                }
                run
            }
            None => {
                let run = ImportRecord {
                    id: sb_types::ImportId::generate().to_string(),
                    kind: request.kind.as_str().into(),
                    target: target_id,
                    source: request.source.chars().take(200).collect(),
                    content_hash,
                    total_rows: i64::try_from(rows.len()).unwrap_or(i64::MAX),
                    rows_done: 0,
                    created: 0,
                    updated: 0,
                    unchanged: 0,
                    state: "running".into(),
                    message: String::new(),
                    started_by: access.actor_label(),
                    started_at: now,
                    updated_at: now,
                };
                db.insert_import(&run).await?;
                run
            }
        };
        let base = (run.created, run.updated, run.unchanged);
        report.id = Some(run.id.clone());
        report.state = "running";
        (report.created, report.updated, report.unchanged) = (0, 0, 0);
        let mut planner = plans::Planner::new(self, access, &target).await?;
        for (n, row) in rows.iter().enumerate().skip(start) {
            let outcome = match planner.plan(row).await {
                Ok(plan) => planner.apply(plan).await.map_err(|e| e.to_string()),
                Err(message) => Err(message),
            };
            match outcome {
                Ok(done) => {
                    match done {
                        plans::Done::Created => report.created += 1,
                        plans::Done::Updated => report.updated += 1,
                        plans::Done::Unchanged => report.unchanged += 1,
                    }
                    report.rows_done = n + 1;
                }
                Err(message) => {
                    report.state = "stopped";
                    report.message = format!(
                        "line {}: {message}; the rows above it were imported: correct this row and import \
                         the file again (rows already in are matched, not doubled)",
                        row.line
                    );
                    break;
                }
            }
            if report.rows_done.is_multiple_of(PROGRESS_EVERY) {
                record(&db, &mut run, base, &report).await?;
                progress(report.rows_done, report.total_rows);
            }
        }
        if report.state == "running" {
            report.state = "done";
        }
        record(&db, &mut run, base, &report).await?;
        progress(report.rows_done, report.total_rows);
        Ok(report)
    }
}

impl Switchboard {
    /// The latest 50 import runs, newest first.
    pub async fn imports(&self, access: &Access) -> Result<Vec<ImportRecord>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.imports(50).await?)
    }
}

/// Saves how far `report` got into the run `run`, whose counts before this pass were `base`.
async fn record(
    db: &sb_store::WorkspaceDb,
    run: &mut ImportRecord,
    base: (i64, i64, i64),
    report: &ImportReport,
) -> Result<(), CoreError> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    run.rows_done = count(report.rows_done);
    run.created = base.0 + count(report.created);
    run.updated = base.1 + count(report.updated);
    run.unchanged = base.2 + count(report.unchanged);
    run.state = match report.state {
        "done" | "stopped" => report.state.into(),
        _ => "running".into(),
    };
    run.message = report.message.clone();
    run.updated_at = Timestamp::now();
    Ok(db.update_import(run).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_whole_or_refused_with_the_line() {
        let (headings, rows) =
            read(b"\xEF\xBB\xBFName,Email\nAna,ana@acme.com\n\"Bo, Jr\",\"bo@\nbeta.io\"\n").unwrap();
        assert_eq!(headings, ["Name", "Email"]);
        assert_eq!(rows[1], (3, vec!["Bo, Jr".to_owned(), "bo@\nbeta.io".to_owned()]));
        let uneven = read(b"Name,Email\nAna\n").unwrap_err().to_string();
        assert!(uneven.contains("line 2") && uneven.contains("nothing was imported"), "{uneven}");
        let quoting = read(b"Name,Email\nAna,\"ana@acme.com\nBo,bo@beta.io\n").unwrap_err().to_string();
        assert!(quoting.contains("line 2: a quoted field opens there"), "{quoting}");
        assert!(read(b"").is_err());
        let (_, rows) = read(b"Item,Note\nTV,55\" screen\n\"He said \"\"hi\"\"\",ok\n").unwrap();
        assert_eq!(rows[0].1[1], "55\" screen", "a quote inside an unquoted field is a character");
        assert_eq!(rows[1].1[0], "He said \"hi\"");
        assert!(read(b"A,B\n1,\"open\n2,3\n").unwrap_err().to_string().contains("line 2"));
        assert_eq!(folded(" E-mail Address "), "emailaddress");
    }
}
