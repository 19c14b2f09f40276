//! What opening a store does on disk before it serves: adopting a log written before log
//! generations, removing what an interrupted compaction or merge left, and opening the
//! manifest's parts.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{Collection, PARTS, Part, UNIQUENESS_WINDOW_MS, unreadable, wal_generations, wal_path};
use crate::collection::CollectionName;
use crate::manifest::Manifest;
use crate::part::PartFile;
use crate::{EventStoreError, schema};

/// Renames the log of a store written before log generations (`events.wal`) to generation 1.
pub(super) fn adopt_single_file_log(dir: &Path) -> io::Result<()> {
    let old = dir.join("events.wal");
    if old.exists() && wal_generations(dir)?.is_empty() && !dir.join("manifest.json").exists() {
        std::fs::rename(&old, wal_path(dir, 1))?;
        crate::manifest::sync_dir(dir)?;
    }
    Ok(())
}

/// Removes what an interrupted compaction or merge left: part files the manifest does not
/// name, a half-written manifest, and log generations already compacted.
pub(super) fn remove_leftovers(dir: &Path, manifest: &Manifest) -> io::Result<()> {
    let named: HashSet<&str> = manifest.part_files().collect();
    let mut removed = false;
    for entry in std::fs::read_dir(dir.join(PARTS))? {
        let entry = entry?;
        let name = entry.file_name();
        if !named.contains(name.to_string_lossy().as_ref()) {
            tracing::info!(file = %entry.path().display(), "removed a part no manifest names");
            std::fs::remove_file(entry.path())?;
            removed = true;
        }
    }
    if removed {
        crate::manifest::sync_dir(&dir.join(PARTS))?;
    }
    for generation in wal_generations(dir)? {
        if generation < manifest.wal_start {
            std::fs::remove_file(wal_path(dir, generation))?;
        }
    }
    let next = dir.join("manifest.json.next");
    if next.exists() {
        std::fs::remove_file(next)?;
    }
    Ok(())
}

/// Opens the manifest's parts, with each collection's schema and recent uniqueness tokens.
pub(super) fn load_parts(
    dir: &Path,
    manifest: &Manifest,
) -> Result<BTreeMap<CollectionName, Collection>, EventStoreError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut collections = BTreeMap::new();
    for (name, entry) in &manifest.collections {
        let Ok(name) = CollectionName::parse(name) else {
            return Err(EventStoreError::Unavailable(format!(
                "the event manifest names a bad collection {name:?}"
            )));
        };
        let mut collection = Collection {
            schema: entry
                .schema
                .iter()
                .filter_map(|(path, kind)| Some((path.clone(), schema::kind_name(kind)?)))
                .collect(),
            ..Collection::default()
        };
        for part in &entry.parts {
            let path = dir.join(PARTS).join(&part.file);
            let file = PartFile::open(&path).map_err(|e| {
                EventStoreError::Unavailable(format!("cannot open event part {}: {e}", path.display()))
            })?;
            if now_ms.saturating_sub(part.info.max_created_ms) < UNIQUENESS_WINDOW_MS {
                let tokens = file.uniqueness_tokens().map_err(unreadable)?;
                collection.tokens.extend(tokens);
            }
            collection.parts.push(Arc::new(Part { entry: part.clone(), file }));
        }
        collections.insert(name, collection);
    }
    Ok(collections)
}
