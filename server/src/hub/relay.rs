//! The hub's relay upstream (issue 11): what its PCs pushed and it took in
//! (`vaidya.hub_relay`, queued by the push in its own transaction), forwarded to the group
//! server in the order it came, each change as its author signed it. The group server
//! verifies every signature and applies each change as its author (`sync::authors`);
//! mutation ids stay the idempotency keys, so a batch sent twice (the hub died before it
//! marked it) is answered from what the group server stored, and a change the PC later
//! pushes itself is applied once.

use chrono::Utc;
use serde_json::Value;
use vaidya_client::{ApiError, ServerApi};
use vaidya_shared::sync::{LocalAccess, Mutation, MutationResult, PushRequest};
use vaidya_shared::ErrorCode;

use super::replica::Replica;
use super::HubError;

/// Items per forwarded push at most (the group server takes up to `MAX_PUSH_BATCH`).
const BATCH: i64 = 200;

/// Bytes of queued items per forwarded push at most, well under the group server's body
/// limit (`app::MAX_BODY_BYTES`, 1 MiB): a day's notes are kilobytes each, and a read
/// names up to 1,000 records.
const BATCH_BYTES: i64 = 256 * 1024;

/// Whether the group server refused a forwarded push for what it holds (too large, or an
/// item it will not take), not for who sent it or how it is: the batch is split, and a
/// single item refused so is set aside with its answer, so that one item never holds up
/// the queue behind it.
fn refused_for_content(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Server {
            status: 400 | 413 | 422,
            ..
        }
    )
}

/// What one forwarding brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    pub mutations: usize,
    pub accesses: usize,
    /// Changes the group server refused after the hub took them in. Logged and kept with
    /// their answer in `hub_relay`, which the PCs that made them ask for
    /// (`sync::relay_answers`).
    pub refused: usize,
}

impl Replica {
    /// How many items wait to be forwarded.
    pub async fn waiting(&self) -> Result<i64, HubError> {
        Ok(self
            .db()
            .query_one(
                "SELECT count(*) FROM vaidya.hub_relay WHERE clinic_id = $1 AND forwarded_at IS NULL",
                &[&self.clinic()],
            )
            .await?
            .get(0))
    }

    /// Forwards everything waiting, in order, a batch per push; each batch is marked with the
    /// group server's answers once they are in. A batch is at most [`BATCH`] items and
    /// [`BATCH_BYTES`] (one item more if the first alone is larger). A batch the group
    /// server refuses for what it holds is halved until the item it refuses is alone; that
    /// item is then marked forwarded with the refusal as its answer, logged and counted as
    /// refused. Any other failure leaves the rest waiting.
    pub async fn forward(&mut self, api: &ServerApi) -> Result<Forwarded, HubError> {
        let clinic = self.clinic();
        let mut done = Forwarded::default();
        let mut take = BATCH;
        loop {
            // The running total of the items' sizes, in queue order: the batch ends where it
            // would pass BATCH_BYTES, and always holds the first item.
            let rows = self
                .db()
                .query(
                    "SELECT seq, kind, item FROM (
                         SELECT seq, kind, item,
                                sum(octet_length(item::text)) OVER (ORDER BY seq) AS upto,
                                row_number() OVER (ORDER BY seq) AS position
                         FROM (SELECT seq, kind, item FROM vaidya.hub_relay
                               WHERE clinic_id = $1 AND forwarded_at IS NULL
                               ORDER BY seq LIMIT $2) waiting) sized
                     WHERE upto <= $3 OR position = 1
                     ORDER BY seq",
                    &[&clinic, &take, &BATCH_BYTES],
                )
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut mutations: Vec<(i64, Mutation)> = Vec::new();
            let mut accesses: Vec<(i64, LocalAccess)> = Vec::new();
            for r in &rows {
                let (seq, kind, item): (i64, String, Value) = (r.get(0), r.get(1), r.get(2));
                let bad = |e: serde_json::Error| {
                    HubError::FeedInvalid(format!("relay item {seq} is unreadable: {e}"))
                };
                match kind.as_str() {
                    "mutation" => mutations.push((seq, serde_json::from_value(item).map_err(bad)?)),
                    _ => accesses.push((seq, serde_json::from_value(item).map_err(bad)?)),
                }
            }
            let request = PushRequest {
                mutations: mutations.iter().map(|(_, m)| m.clone()).collect(),
                local_accesses: accesses.iter().map(|(_, a)| a.clone()).collect(),
                cancelled_numbers: Vec::new(),
            };
            let answer = match api.push(clinic, &request).await {
                Ok(answer) => answer,
                Err(e) if refused_for_content(&e) && rows.len() > 1 => {
                    take = (rows.len() as i64 / 2).max(1);
                    tracing::info!(items = rows.len(), error = %e, "the group server refused a relay batch; halving it");
                    continue;
                }
                Err(e) if refused_for_content(&e) => {
                    // One item, refused outright: set aside with the refusal as its answer.
                    tracing::warn!(error = %e, "the group server refuses an item the hub took in; set aside");
                    let code = match &e {
                        ApiError::Server { code, .. } => *code,
                        _ => ErrorCode::InvalidField,
                    };
                    let refusals: Vec<MutationResult> = mutations
                        .iter()
                        .map(|(_, m)| MutationResult::Rejected {
                            mutation_id: m.mutation_id,
                            code,
                            message: e.to_string(),
                            field: None,
                        })
                        .collect();
                    done.refused += self
                        .mark_forwarded(&mutations, &refusals, &accesses)
                        .await?;
                    take = BATCH;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            take = BATCH;
            // One answer per change, in order: anything else is a broken answer, and marking
            // by position would mark the wrong changes.
            let in_order = answer.results.len() == mutations.len()
                && answer
                    .results
                    .iter()
                    .zip(&mutations)
                    .all(|(r, (_, m))| r.mutation_id() == m.mutation_id);
            if !in_order {
                return Err(HubError::FeedInvalid(
                    "the group server's push answer does not match the changes sent".to_owned(),
                ));
            }
            done.refused += self
                .mark_forwarded(&mutations, &answer.results, &accesses)
                .await?;
            done.mutations += mutations.len();
            done.accesses += accesses.len();
        }
    }

    /// Marks a batch forwarded in one transaction, each change with its answer (`results`,
    /// in the changes' order); returns how many of them the group server refused.
    async fn mark_forwarded(
        &mut self,
        mutations: &[(i64, Mutation)],
        results: &[MutationResult],
        accesses: &[(i64, LocalAccess)],
    ) -> Result<usize, HubError> {
        let clinic = self.clinic();
        let now = Utc::now();
        let mut refused = 0;
        let tx = self.db_mut().transaction().await?;
        for ((seq, m), result) in mutations.iter().zip(results) {
            if let MutationResult::Rejected { code, message, .. } = result {
                refused += 1;
                tracing::warn!(mutation = %m.mutation_id, ?code, message, "the group server refused a change the hub took in");
            }
            let result =
                serde_json::to_value(result).map_err(|e| HubError::FeedInvalid(e.to_string()))?;
            tx.execute(
                "UPDATE vaidya.hub_relay SET forwarded_at = $3, result = $4
                 WHERE clinic_id = $1 AND seq = $2",
                &[&clinic, seq, &now, &result],
            )
            .await?;
        }
        let access_seqs: Vec<i64> = accesses.iter().map(|(seq, _)| *seq).collect();
        tx.execute(
            "UPDATE vaidya.hub_relay SET forwarded_at = $3
             WHERE clinic_id = $1 AND seq = ANY($2)",
            &[&clinic, &access_seqs, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(refused)
    }
}
