//! The manifest (`manifest.json`): which parts hold each collection's compacted events, and
//! from which log generation on the write-ahead log holds events that are in no part yet.
//!
//! It is replaced atomically: written beside the old one, synced, renamed over it, and the
//! folder synced. A crash therefore leaves the old or the new manifest, never a mix; files the
//! manifest does not name (a part written before a crash, a log generation already compacted)
//! are leftovers that `EventStore::open` removes. An event is in a part the manifest names or
//! in a log generation at or after `wal_start`, never in both.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::part::PartInfo;

const FILE: &str = "manifest.json";
const NEXT: &str = "manifest.json.next";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub version: u32,
    /// The first log generation whose events are not in parts.
    pub wal_start: u64,
    /// The number of the next part file.
    pub next_part: u64,
    pub collections: BTreeMap<String, CollectionParts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CollectionParts {
    pub parts: Vec<PartEntry>,
    /// The collection's schema (dot path → Keen type name) when the parts were written.
    pub schema: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartEntry {
    /// File name in the `parts` folder.
    pub file: String,
    #[serde(flatten)]
    pub info: PartInfo,
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest { version: 1, wal_start: 1, next_part: 1, collections: BTreeMap::new() }
    }
}

impl Manifest {
    /// Reads the manifest in `dir`; a folder without one has the empty manifest.
    pub(crate) fn load(dir: &Path) -> io::Result<Manifest> {
        match std::fs::read(dir.join(FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("the event manifest is unreadable: {e}"))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the manifest in `dir` atomically and durably.
    pub(crate) fn store(&self, dir: &Path) -> io::Result<()> {
        let next = dir.join(NEXT);
        let mut file = File::create(&next)?;
        file.write_all(&serde_json::to_vec_pretty(self).expect("manifests serialise"))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&next, dir.join(FILE))?;
        sync_dir(dir)
    }

    /// Every part file the manifest names.
    pub(crate) fn part_files(&self) -> impl Iterator<Item = &str> {
        self.collections.values().flat_map(|c| &c.parts).map(|p| p.file.as_str())
    }
}

/// Makes a folder's entries (new, renamed or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_loads_and_a_missing_manifest_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Manifest::default());
        let mut manifest = Manifest { wal_start: 7, next_part: 3, ..Manifest::default() };
        let info =
            PartInfo { rows: 10, min_ts: 1, max_ts: 2, max_created_ms: 3, bytes: 400, string_bytes: 90 };
        manifest
            .collections
            .entry("clicks".into())
            .or_default()
            .parts
            .push(PartEntry { file: "1.parquet".into(), info });
        manifest.store(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest);
        assert_eq!(manifest.part_files().collect::<Vec<_>>(), ["1.parquet"]);
        assert!(!dir.path().join(NEXT).exists());
    }

    #[test]
    fn a_damaged_manifest_is_an_error_not_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{\"version\": 1, \"wal_st").unwrap();
        let error = Manifest::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("unreadable"), "{error}");
    }
}
