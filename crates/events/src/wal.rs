//! The write-ahead log: one file per workspace, a sequence of frames, each holding the events
//! one request added (so a request is in the log whole or not at all).
//!
//! Frame: payload length (u32, little endian), CRC-32 of the payload (u32, little endian),
//! payload (JSON `{"collection": [event, …], …}`). On open, frames are read until the first
//! one that is incomplete or fails its checksum: that torn tail (a write cut short by a crash)
//! is cut off the file, never served.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::{Map, Value};

const HEADER: usize = 8;
/// The largest frame: a damaged length must not make replay allocate gigabytes. Writers keep
/// requests below it (`MAX_REQUEST_BYTES`).
pub(crate) const MAX_FRAME: usize = 256 * 1024 * 1024;

/// The open log, positioned at its end.
pub(crate) struct Wal {
    file: File,
    len: u64,
}

/// What replay found.
pub(crate) struct Replay {
    pub frames: Vec<Map<String, Value>>,
    /// Bytes cut from a torn tail (0 when the log was clean).
    pub cut_bytes: u64,
}

impl Wal {
    /// Opens (creating) the log at `path`, locks it against other processes, returns its
    /// frames, and cuts a torn tail (kept beside the log in `<name>.torn-<unix ms>`, so that
    /// damage in the middle of a log is never erased, only set aside).
    pub(crate) fn open(path: &Path) -> io::Result<(Wal, Replay)> {
        let created = !path.exists();
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        file.try_lock().map_err(|_| io::Error::other("the event log is in use by another process"))?;
        if created {
            file.sync_all()?;
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        let total = file.metadata()?.len();
        let mut reader = BufReader::new(&mut file);
        reader.seek(SeekFrom::Start(0))?;
        let mut frames = Vec::new();
        let mut good = 0u64;
        while let Some(frame) = read_frame(&mut reader, total - good)? {
            good += (HEADER + frame.1) as u64;
            frames.push(frame.0);
        }
        let cut_bytes = total - good;
        if cut_bytes > 0 {
            let mut torn = Vec::new();
            file.seek(SeekFrom::Start(good))?;
            file.read_to_end(&mut torn)?;
            let aside = path.with_extension(format!("wal.torn-{}", chrono::Utc::now().timestamp_millis()));
            std::fs::write(&aside, &torn)?;
            File::open(&aside)?.sync_all()?;
            file.set_len(good)?;
            file.sync_all()?;
            tracing::warn!(path = %path.display(), cut_bytes, aside = %aside.display(), "cut a torn tail off the event log");
        }
        Ok((Wal { file, len: good }, Replay { frames, cut_bytes }))
    }

    /// Appends frames without syncing; `sync` makes them durable.
    pub(crate) fn append(&mut self, payloads: &[Vec<u8>]) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        for payload in payloads {
            if payload.len() > MAX_FRAME {
                return Err(io::Error::other("frame larger than the log accepts"));
            }
            let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("frame too large"))?;
            buffer.extend_from_slice(&len.to_le_bytes());
            buffer.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
            buffer.extend_from_slice(payload);
        }
        let written = self.file.write_all(&buffer);
        if written.is_ok() {
            self.len += buffer.len() as u64;
        }
        written
    }

    /// Forces appended frames to disk.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The durable length; frames after it are not acknowledged.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Cuts the log back to `len` after a failed write, so unacknowledged frames cannot come
    /// back on the next start. On failure the log's state is unknown: the caller must stop
    /// writing to it.
    pub(crate) fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()?;
        self.len = len;
        Ok(())
    }
}

/// One frame, or `None` at the end of the good part of the log.
fn read_frame(reader: &mut impl Read, remaining: u64) -> io::Result<Option<(Map<String, Value>, usize)>> {
    if remaining < HEADER as u64 {
        return Ok(None);
    }
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header)?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len > MAX_FRAME || (HEADER + len) as u64 > remaining {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload)?;
    if crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    match serde_json::from_slice(&payload) {
        Ok(Value::Object(frame)) => Ok(Some((frame, len))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "c": [{ "n": n }] })).unwrap()
    }

    #[test]
    fn frames_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.wal");
        let (mut wal, replay) = Wal::open(&path).unwrap();
        assert!(replay.frames.is_empty());
        wal.append(&[payload(1), payload(2)]).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (_, replay) = Wal::open(&path).unwrap();
        let ns: Vec<i64> = replay.frames.iter().map(|f| f["c"][0]["n"].as_i64().unwrap()).collect();
        assert_eq!(ns, [1, 2]);
        assert_eq!(replay.cut_bytes, 0);
    }

    #[test]
    fn a_torn_or_damaged_tail_is_cut_and_writing_resumes() {
        for damage in ["truncate", "flip", "garbage"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("events.wal");
            let (mut wal, _) = Wal::open(&path).unwrap();
            wal.append(&[payload(1), payload(2)]).unwrap();
            wal.sync().unwrap();
            let good = payload(1).len() + HEADER;
            drop(wal);
            let mut bytes = std::fs::read(&path).unwrap();
            match damage {
                "truncate" => bytes.truncate(bytes.len() - 3),
                "flip" => *bytes.last_mut().unwrap() ^= 0xff,
                _ => bytes.extend_from_slice(&[0xff; 5]),
            }
            std::fs::write(&path, &bytes).unwrap();
            let (mut wal, replay) = Wal::open(&path).unwrap();
            let expected = if damage == "garbage" { 2 } else { 1 };
            assert_eq!(replay.frames.len(), expected, "{damage}");
            assert!(replay.cut_bytes > 0, "{damage}");
            if damage != "garbage" {
                assert_eq!(std::fs::metadata(&path).unwrap().len(), good as u64, "{damage}");
            }
            wal.append(&[payload(3)]).unwrap();
            wal.sync().unwrap();
            drop(wal);
            let (_, replay) = Wal::open(&path).unwrap();
            assert_eq!(replay.frames.last().unwrap()["c"][0]["n"], 3, "{damage}");
            assert_eq!(replay.cut_bytes, 0);
        }
    }
}
