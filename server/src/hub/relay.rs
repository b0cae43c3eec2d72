//! The hub's relay upstream (issue 11): what its PCs pushed and it took in
//! (`vaidya.hub_relay`, queued by the push in its own transaction), forwarded to the group
//! server in the order it came, each change as its author signed it. The group server
//! verifies every signature and applies each change as its author (`sync::authors`);
//! mutation ids stay the idempotency keys, so a batch sent twice (the hub died before it
//! marked it) is answered from what the group server stored, and a change the PC later
//! pushes itself is applied once.

use chrono::Utc;
use serde_json::Value;
use vaidya_client::ServerApi;
use vaidya_shared::sync::{LocalAccess, Mutation, MutationResult, PushRequest};

use super::replica::Replica;
use super::HubError;

/// Items per forwarded push (the group server takes up to `MAX_PUSH_BATCH`).
const BATCH: i64 = 200;

/// What one forwarding brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    pub mutations: usize,
    pub accesses: usize,
    /// Changes the group server refused: the hub took them in, so its PCs think them done.
    /// Logged and kept with their answer in `hub_relay` (see ARCHITECTURE.md).
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
    /// group server's answers once they are in. A failure leaves the rest waiting.
    pub async fn forward(&mut self, api: &ServerApi) -> Result<Forwarded, HubError> {
        let clinic = self.clinic();
        let mut done = Forwarded::default();
        loop {
            let rows = self
                .db()
                .query(
                    "SELECT seq, kind, item FROM vaidya.hub_relay
                     WHERE clinic_id = $1 AND forwarded_at IS NULL ORDER BY seq LIMIT $2",
                    &[&clinic, &BATCH],
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
            let answer = api.push(clinic, &request).await?;
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
            let tx = self.db_mut().transaction().await?;
            let now = Utc::now();
            for ((seq, m), result) in mutations.iter().zip(&answer.results) {
                if let MutationResult::Rejected { code, message, .. } = result {
                    done.refused += 1;
                    tracing::warn!(mutation = %m.mutation_id, ?code, message, "the group server refused a change the hub took in");
                }
                let result = serde_json::to_value(result)
                    .map_err(|e| HubError::FeedInvalid(e.to_string()))?;
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
            done.mutations += mutations.len();
            done.accesses += accesses.len();
        }
    }
}
