//! `vaidya-server audit verify`: walks each clinic's audit hash chain and names the first
//! broken link. The canonical text is rebuilt here independently of the SQL that wrote it,
//! so an edited row, a deleted row or a rewritten hash all show up.

use anyhow::Result;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use uuid::Uuid;

/// What is wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub clinic_id: Uuid,
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "clinic {} audit row {}: {}",
            self.clinic_id, self.seq, self.reason
        )
    }
}

#[derive(Debug, Default)]
pub struct ChainReport {
    pub clinics: usize,
    pub rows: u64,
    /// The first broken link of each broken clinic chain.
    pub broken: Vec<BrokenLink>,
}

fn join_uuids(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Verify every clinic's chain. Needs a connection that may read the whole log (the owner
/// through the admin URL, or a superuser).
pub async fn verify(client: &Client) -> Result<ChainReport> {
    let mut report = ChainReport::default();
    let heads = client
        .query(
            "SELECT clinic_id, seq, hash FROM vaidya.audit_chain_heads ORDER BY clinic_id",
            &[],
        )
        .await?;
    for head in heads {
        let clinic: Uuid = head.get(0);
        let head_seq: i64 = head.get(1);
        let head_hash: Vec<u8> = head.get(2);
        report.clinics += 1;
        let rows = client
            .query(
                "SELECT seq, actor_id, action, entity_type, entity_ids, patient_ids, device, request_id,
                        floor(extract(epoch FROM at) * 1000000)::bigint AS at_us, hash,
                        floor(extract(epoch FROM occurred_at) * 1000000)::bigint AS occurred_us
                 FROM vaidya.audit_log WHERE clinic_id = $1 ORDER BY seq",
                &[&clinic],
            )
            .await?;
        let mut prev = vec![0u8; 32];
        let mut expected_seq = 1i64;
        let mut broken = None;
        for r in &rows {
            report.rows += 1;
            let seq: i64 = r.get(0);
            if seq != expected_seq {
                broken = Some((
                    expected_seq,
                    format!("row {expected_seq} is missing (next row is {seq})"),
                ));
                break;
            }
            let actor: Option<Uuid> = r.get(1);
            let canonical = [
                clinic.to_string(),
                seq.to_string(),
                actor.map(|a| a.to_string()).unwrap_or_default(),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                join_uuids(&r.get::<_, Vec<Uuid>>(4)),
                join_uuids(&r.get::<_, Vec<Uuid>>(5)),
                r.get::<_, Option<String>>(6).unwrap_or_default(),
                r.get::<_, Option<String>>(7).unwrap_or_default(),
                r.get::<_, i64>(8).to_string(),
                r.get::<_, Option<i64>>(10)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ]
            .join("|");
            let mut h = Sha256::new();
            h.update(&prev);
            h.update(canonical.as_bytes());
            let computed = h.finalize().to_vec();
            let stored: Vec<u8> = r.get(9);
            if computed != stored {
                broken = Some((
                    seq,
                    "contents do not match the hash chain (edited or forged)".to_string(),
                ));
                break;
            }
            prev = stored;
            expected_seq += 1;
        }
        if broken.is_none() {
            let last = expected_seq - 1;
            if last != head_seq {
                broken = Some((
                    last + 1,
                    format!(
                        "the chain ends at row {last} but the head says {head_seq} (rows removed)"
                    ),
                ));
            } else if prev != head_hash && head_seq > 0 {
                broken = Some((
                    head_seq,
                    "the last row does not match the chain head".to_string(),
                ));
            }
        }
        if let Some((seq, reason)) = broken {
            report.broken.push(BrokenLink {
                clinic_id: clinic,
                seq,
                reason,
            });
        }
    }
    Ok(report)
}
