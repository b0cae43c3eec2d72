//! Wipes this PC did when a member lost their place in a clinic, kept until the server has
//! them in the clinic's audit trail (`POST /v1/me/device-wipes`).
//!
//! A whole-file wipe leaves no clinic file to keep a report in, so reports live beside the
//! partitions in `<data>/wipe-reports.json`: ids, times and the server's address, nothing
//! secret or clinical. The file is replaced whole (written aside, then renamed), so a crash
//! leaves the old list or the new one, never half of either.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vaidya_shared::api::DeviceWipe;

use crate::partition::DataDir;

/// A wipe not yet recorded by the server it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PendingWipe {
    server: String,
    wipe: DeviceWipe,
}

fn file(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join("wipe-reports.json")
}

fn load(data_dir: &DataDir) -> std::io::Result<Vec<PendingWipe>> {
    match std::fs::read(file(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn store(data_dir: &DataDir, wipes: &[PendingWipe]) -> std::io::Result<()> {
    let path = file(data_dir);
    if wipes.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(data_dir.root())?;
    let aside = path.with_extension("json.new");
    std::fs::write(
        &aside,
        serde_json::to_vec(wipes).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(aside, path)
}

/// Keeps a wipe to report to `server`.
pub fn record(data_dir: &DataDir, server: &str, wipe: DeviceWipe) -> std::io::Result<()> {
    let mut wipes = load(data_dir)?;
    wipes.push(PendingWipe {
        server: server.to_owned(),
        wipe,
    });
    store(data_dir, &wipes)
}

/// The wipes still to report to `server`, oldest first.
pub fn pending(data_dir: &DataDir, server: &str) -> std::io::Result<Vec<DeviceWipe>> {
    Ok(load(data_dir)?
        .into_iter()
        .filter(|p| p.server == server)
        .map(|p| p.wipe)
        .collect())
}

/// Drops reports the server has (or will never take).
pub fn remove(data_dir: &DataDir, ids: &[Uuid]) -> std::io::Result<()> {
    let mut wipes = load(data_dir)?;
    let before = wipes.len();
    wipes.retain(|p| !ids.contains(&p.wipe.id));
    if wipes.len() == before {
        return Ok(());
    }
    store(data_dir, &wipes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaidya_shared::api::WipeScope;

    fn wipe() -> DeviceWipe {
        DeviceWipe {
            id: Uuid::now_v7(),
            clinic_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            wiped_at: chrono::Utc::now(),
            scope: WipeScope::File,
        }
    }

    #[test]
    fn reports_wait_per_server_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        assert!(pending(&data, "https://a").unwrap().is_empty());
        let (one, two) = (wipe(), wipe());
        record(&data, "https://a", one.clone()).unwrap();
        record(&data, "https://b", two.clone()).unwrap();
        assert_eq!(pending(&data, "https://a").unwrap(), vec![one.clone()]);
        assert_eq!(pending(&data, "https://b").unwrap(), vec![two.clone()]);
        remove(&data, &[one.id]).unwrap();
        assert!(pending(&data, "https://a").unwrap().is_empty());
        assert_eq!(pending(&data, "https://b").unwrap(), vec![two.clone()]);
        remove(&data, &[two.id]).unwrap();
        assert!(!file(&data).exists(), "an empty list leaves no file");
    }

    #[test]
    fn a_damaged_list_is_an_error_not_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        std::fs::write(file(&data), b"{not json").unwrap();
        assert!(pending(&data, "https://a").is_err());
        assert!(
            record(&data, "https://a", wipe()).is_err(),
            "never overwrites it"
        );
    }
}
