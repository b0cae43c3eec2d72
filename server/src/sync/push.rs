//! Push: apply a batch of offline mutations, each with its own result.
//!
//! Rules (clinical sense, not last-writer-wins):
//! - A retried mutation id gets its stored result; nothing applies twice.
//! - A bad mutation is rejected and the rest go on (each runs under its own savepoint once a
//!   batch has shown a failure).
//! - Ingest is set-based where that is safe: a run of consecutive patient creates takes its
//!   patient numbers with one counter update and is inserted by one multi-row statement;
//!   the idempotency lookup and the idempotency records are one statement each per batch,
//!   and the audit rows (one per action and entity) are pipelined with the records.
//! - Updates merge per field: a field whose server value still equals the value the user
//!   saw (`base`) takes the new value; a field changed on both sides keeps the server's value
//!   (the first to reach the server wins, so every device converges on the same answer) and
//!   the device's value goes to the conflict inbox.
//! - Signed notes and issued prescriptions/invoices never change: an offline edit of a signed
//!   note becomes an addendum; other edits become conflicts.
//! - An edit of a record deleted on the server is a conflict; nothing is resurrected.
//! - Overlapping bookings of one doctor are both kept and flagged as a double booking.
//! - Only the rules reject. A transient database error (deadlock, serialization failure,
//!   lost connection) is never a mutation's result: it aborts the whole attempt, which
//!   `RequestTx::retrying` runs again from the start; if it keeps failing the push is answered
//!   `503 retry_later` with `Retry-After` and nothing of it is stored.
//!
//! Lock order of a push (any other order between two transactions can deadlock):
//! 1. the mutations' own rows and counters, in batch order (records, `clinic_counters`,
//!    the parent a child "touches", conflict rows). Two batches editing the same records in
//!    opposite orders can still deadlock; that is the transient case above.
//! 2. `sync_mutations`, the idempotency records (one insert, sent first at the end);
//! 3. the clinic's audit chain head (`audit_append`), LAST: the audit rows of the
//!    mutations and the uploaded offline accesses, together after everything else. REST
//!    handlers likewise append their audit row after their work.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, CancelInvoice, CancelledInvoiceNumber, NewAddendum, Role};
use vaidya_shared::entity::{self, kinds, Entity, Stored, Updates};
use vaidya_shared::for_each_kind;
use vaidya_shared::rules::{self, clock, Action, Resource, Valid, Validate};
use vaidya_shared::sync::{
    ConflictKind, EntityKind, FieldChange, FieldConflict, LocalAccess, Mutation, MutationResult,
    Operation, PushRequest, PushResponse, MAX_PUSH_BATCH,
};
use vaidya_shared::{ApiError, ErrorCode};

use super::authors::{Author, Authors};
use super::conflicts::{self, NewConflict};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};
use crate::routes::{self, today};
use crate::store::{self, Store};

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/sync/push", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 404, body = ApiError), (status = 422, body = ApiError),
        (status = 503, description = "A transient database failure (`retry_later`); nothing was stored; retry after `Retry-After` seconds", body = ApiError)))]
pub async fn push(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, AppError> {
    if req.mutations.len() > MAX_PUSH_BATCH {
        return Err(AppError::field(
            "mutations",
            format!("A push carries at most {MAX_PUSH_BATCH} mutations."),
        ));
    }
    if req.local_accesses.len() > 1000
        || req
            .local_accesses
            .iter()
            .any(|a| a.entity_ids.len() > 1000 || a.patient_ids.len() > 1000)
    {
        return Err(AppError::field(
            "local_accesses",
            "Too many local accesses in one push.",
        ));
    }
    for a in &req.local_accesses {
        rules::validation::device_access(a.action)?;
    }
    if req.cancelled_numbers.len() > MAX_PUSH_BATCH {
        return Err(AppError::field(
            "cancelled_numbers",
            format!("A push carries at most {MAX_PUSH_BATCH} cancelled numbers."),
        ));
    }
    for (i, n) in req.cancelled_numbers.iter().enumerate() {
        n.clone().validate(today()).map_err(|e| ApiError {
            field: e.field.map(|f| format!("cancelled_numbers[{i}].{f}")),
            ..e
        })?;
    }
    // A transient failure (a deadlock victim, say) undoes the whole attempt; the push is run
    // again from the start (safe: push is idempotent), and only then answered 503.
    RequestTx::retrying(|| push_once(&app, &meta, clinic, &req)).await
}

/// One attempt of a push: one transaction.
async fn push_once(
    app: &App,
    meta: &RequestMeta,
    clinic: Uuid,
    req: &PushRequest,
) -> Result<Json<PushResponse>, AppError> {
    RequestTx::begin(&app.pool, meta)
        .await?
        .run(async |tx| {
            let role = tx.require_member(clinic, "sync").await?;
            if role == Role::Hub && !req.cancelled_numbers.is_empty() {
                // Nothing signs a cancelled number, so a hub cannot prove whose it is; the
                // PC that discarded the invoice reports it itself.
                return Err(AppError::field(
                    "cancelled_numbers",
                    "A clinic hub cannot relay cancelled invoice numbers; the PC reports them itself.",
                ));
            }
            let hub = tx.is_hub_of(clinic).await?;
            if hub {
                relayable(req)?;
            }
            // Optimistic first: the whole batch without per-mutation savepoints (a third of
            // the round trips). If any mutation fails, undo the attempt and apply the batch
            // again with a savepoint around each mutation, so the bad one alone is rejected.
            tx.execute_simple("SAVEPOINT batch").await?;
            let batch = match apply_batch(tx, clinic, role, req, Mode::Optimistic).await {
                Ok(batch) => batch,
                // A server fault or a transient failure (the whole push is retried), never
                // a reason to apply the batch in careful mode.
                Err(e) if e.fails_request() => return Err(e),
                Err(_) => {
                    tx.execute_simple("ROLLBACK TO SAVEPOINT batch").await?;
                    apply_batch(tx, clinic, role, req, Mode::Careful).await?
                }
            };
            if hub {
                enqueue_relay(tx, clinic, req, &batch).await?;
            }
            Ok(Json(batch.response))
        })
        .await
}

/// What a clinic hub can forward to the group server as its authors' own (issue 11): only
/// signed work. A push to a hub with an unsigned change or access, or with cancelled invoice
/// numbers (which nothing signs), is refused whole and nothing is applied, so the PC keeps
/// it and pushes it to the group server itself.
fn relayable(req: &PushRequest) -> Result<(), AppError> {
    const WHY: &str = "A clinic hub takes only signed work, which it forwards as its author's; this PC pushes it to the group server itself.";
    if let Some(i) = req.mutations.iter().position(|m| m.author.is_none()) {
        return Err(AppError::field(&format!("mutations[{i}].author"), WHY));
    }
    if let Some(i) = req.local_accesses.iter().position(|a| a.author.is_none()) {
        return Err(AppError::field(&format!("local_accesses[{i}].author"), WHY));
    }
    if !req.cancelled_numbers.is_empty() {
        return Err(AppError::field("cancelled_numbers", WHY));
    }
    Ok(())
}

/// Queues for the group server, in this push's transaction, what the hub took in: each
/// change it applied or recorded as a conflict (a refusal here is the PC's answer and goes
/// no further) and each uploaded read whose signature held, as signed
/// (`vaidya.hub_relay`). An unproven read was recorded here as a denial only, and the PC
/// uploads it again itself.
async fn enqueue_relay(
    tx: &RequestTx,
    clinic: Uuid,
    req: &PushRequest,
    batch: &Batch,
) -> Result<(), AppError> {
    let mut ids = Vec::new();
    let mut items = Vec::new();
    for (m, result) in req.mutations.iter().zip(&batch.response.results) {
        if matches!(
            result,
            MutationResult::Applied { .. } | MutationResult::Conflict { .. }
        ) {
            ids.push(m.mutation_id);
            items.push(serde_json::to_value(m).map_err(|e| AppError::Internal(e.into()))?);
        }
    }
    enqueue(tx, clinic, "mutation", &ids, &items).await?;
    let recorded: std::collections::HashSet<&Uuid> = batch.reads_recorded.iter().collect();
    let proven: Vec<&LocalAccess> = req
        .local_accesses
        .iter()
        .filter(|a| recorded.contains(&a.access_id))
        .collect();
    let ids: Vec<Uuid> = proven.iter().map(|a| a.access_id).collect();
    let items = proven
        .into_iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::Internal(e.into()))?;
    enqueue(tx, clinic, "access", &ids, &items).await
}

async fn enqueue(
    tx: &RequestTx,
    clinic: Uuid,
    kind: &str,
    ids: &[Uuid],
    items: &[Value],
) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "SELECT vaidya.hub_relay_enqueue($1, $2, $3, $4)",
        &[&clinic, &kind, &ids, &items],
    )
    .await?;
    Ok(())
}

/// How a batch is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No savepoints; the first failing mutation fails the attempt.
    Optimistic,
    /// A savepoint per mutation; failures become `rejected` results.
    Careful,
}

/// Apply a batch in the caller's transaction; results in request order.
/// What [`apply_batch`] did: the answer for the device, and the uploaded reads it recorded
/// as a reader's (on a clinic hub, only those whose signature held; the hub forwards those
/// alone).
pub struct Batch {
    pub response: PushResponse,
    pub reads_recorded: Vec<Uuid>,
}

pub async fn apply_batch(
    tx: &RequestTx,
    clinic: Uuid,
    role: Role,
    req: &PushRequest,
    mode: Mode,
) -> Result<Batch, AppError> {
    let ids: Vec<Uuid> = req.mutations.iter().map(|m| m.mutation_id).collect();
    let mut stored: HashMap<Uuid, MutationResult> = HashMap::new();
    for r in tx
        .query(
            // One index probe per id (LATERAL … LIMIT 1 keeps the planner from hashing all
            // of the clinic's records when its statistics are stale, as after a bulk load).
            "SELECT t.id, s.result FROM unnest($2::uuid[]) AS t(id)
             CROSS JOIN LATERAL (SELECT result FROM vaidya.sync_mutations s
                                 WHERE s.clinic_id = $1 AND s.mutation_id = t.id LIMIT 1) s",
            &[&clinic, &ids],
        )
        .await?
    {
        if let Ok(result) = serde_json::from_value(r.get(1)) {
            stored.insert(r.get(0), result);
        }
    }

    let mut results = Vec::with_capacity(req.mutations.len());
    let mut fresh: Vec<(Uuid, Value)> = Vec::new();
    let mut audit: AuditRows = HashMap::new();
    let mut authors = Authors::load(tx, clinic, role).await?;
    let pusher = authors.pusher;
    // Who each change is applied as, every colleague's signature checked up front together.
    let claimed = authors.of_each(tx, clinic, &req.mutations).await?;
    let mut savepoint = false;
    let mut i = 0;
    while i < req.mutations.len() {
        let m = &req.mutations[i];
        if let Some(done) = stored.get(&m.mutation_id) {
            results.push(done.clone());
            i += 1;
            continue;
        }
        // A run of consecutive new patient creates is inserted set-based: one counter
        // update and one multi-row INSERT for the whole run (see `insert_patients`).
        if let Some(run_author) = patient_create_by(m, pusher) {
            let mut end = i + 1;
            let mut seen = std::collections::HashSet::from([m.mutation_id]);
            while end < req.mutations.len()
                && patient_create_by(&req.mutations[end], pusher) == Some(run_author)
                && req.mutations[end].device == m.device
                && !stored.contains_key(&req.mutations[end].mutation_id)
                && seen.insert(req.mutations[end].mutation_id)
            {
                end += 1;
            }
            if end - i > 1 {
                if savepoint {
                    tx.execute_simple("RELEASE SAVEPOINT mutation").await?;
                    savepoint = false;
                }
                let run = &req.mutations[i..end];
                let outcomes = apply_patient_run(
                    tx,
                    clinic,
                    &authors,
                    run,
                    &claimed[i..end],
                    run_author,
                    mode,
                )
                .await?;
                for (m, result) in run.iter().zip(outcomes) {
                    match &result {
                        MutationResult::Applied { .. } => {
                            let entry = audit
                                .entry((run_author, AuditAction::Create, m.entity.as_str()))
                                .or_default();
                            entry.0.push(m.entity_id);
                            entry.1.push(m.entity_id);
                        }
                        MutationResult::Rejected { code, .. } if is_denial(*code) => {
                            let entry = audit
                                .entry((pusher, AuditAction::Denied, m.entity.as_str()))
                                .or_default();
                            entry.0.push(m.entity_id);
                        }
                        _ => {}
                    }
                    if kept(role, &result) {
                        fresh.push((
                            m.mutation_id,
                            serde_json::to_value(&result)
                                .map_err(|e| AppError::Internal(e.into()))?,
                        ));
                    }
                    stored.insert(m.mutation_id, result.clone());
                    results.push(result);
                }
                i = end;
                continue;
            }
        }
        let author = claimed[i].clone();
        i += 1;
        if mode == Mode::Careful {
            tx.execute_simple(if savepoint {
                "RELEASE SAVEPOINT mutation; SAVEPOINT mutation"
            } else {
                "SAVEPOINT mutation"
            })
            .await?;
            savepoint = true;
        }
        let result = match apply_as_author(tx, clinic, &authors, m, author).await {
            Ok((result, patient, author)) => {
                let action = match m.op {
                    Operation::Create => AuditAction::Create,
                    Operation::Update => AuditAction::Update,
                    Operation::Delete => AuditAction::Delete,
                };
                let entry = audit
                    .entry((author, action, m.entity.as_str()))
                    .or_default();
                entry.0.push(m.entity_id);
                entry.1.extend(patient);
                result
            }
            Err(e) if mode == Mode::Optimistic => return Err(e),
            // Transient errors too: the attempt is aborted and retried whole, never stored.
            Err(e) if e.fails_request() => return Err(e),
            Err(e) => {
                tx.execute_simple("ROLLBACK TO SAVEPOINT mutation").await?;
                rejected(m, e, pusher, &mut audit)
            }
        };
        if kept(role, &result) {
            fresh.push((
                m.mutation_id,
                serde_json::to_value(&result).map_err(|e| AppError::Internal(e.into()))?,
            ));
        }
        stored.insert(m.mutation_id, result.clone());
        results.push(result);
    }
    if savepoint {
        tx.execute_simple("RELEASE SAVEPOINT mutation").await?;
    }
    record_cancelled_numbers(tx, clinic, role, &req.cancelled_numbers, pusher, &mut audit).await?;
    // Uploaded offline accesses: each as its reader (proven like a mutation's author), at
    // its bounded device time, once per access id. One whose signature does not hold is
    // still audited (it is a disclosure record) under the pusher, whose session uploaded
    // it, beside a `denied` row for the unproven claim; from a clinic hub, which is no
    // reader, the `denied` row alone.
    let mut accesses = Vec::with_capacity(req.local_accesses.len());
    let readers = authors.of_each(tx, clinic, &req.local_accesses).await?;
    for (a, reader) in req.local_accesses.iter().zip(readers) {
        let reader = match reader {
            Ok(reader) => reader,
            Err(_) => {
                audit
                    .entry((pusher, AuditAction::Denied, a.entity.as_str()))
                    .or_default()
                    .0
                    .extend(&a.entity_ids);
                // A hub read nothing itself: the unproven access is the denial alone (the
                // PC uploads it again itself, under its reader's session).
                if role == Role::Hub {
                    continue;
                }
                authors.pusher()
            }
        };
        let at = clock::act_time(a.at, reader.not_before, authors.received);
        accesses.push((a, reader.user_id, at));
    }
    // An uploaded access is audited with this clinic's patients only, so a device cannot
    // write another clinic's patient (or a made-up id) into this clinic's trail.
    let named: Vec<Uuid> = req
        .local_accesses
        .iter()
        .flat_map(|a| a.patient_ids.iter().copied())
        .collect();
    let known_patients = routes::patients::existing(tx, clinic, &named).await?;
    // The idempotency records and the audit rows are independent statements: pipelined on
    // the connection (sent together, one round trip for all of them). The statements are
    // prepared first (cache hits after a connection's first push), so each is sent when
    // first polled, in this order: the records, then the audit rows, which take the clinic's
    // audit chain head last (see the lock order above).
    tokio::try_join!(
        tx.prepare(RECORD_SQL),
        tx.prepare(ACCESS_SQL),
        tx.prepare_audit()
    )?;
    let record = async {
        if !fresh.is_empty() {
            // Recorded as the pusher's request (the audit trail names each author).
            let (ids, values): (Vec<Uuid>, Vec<Value>) = fresh.into_iter().unzip();
            tx.execute(RECORD_SQL, &[&clinic, &ids, &pusher, &values])
                .await?;
        }
        Ok::<_, AppError>(())
    };
    // The pusher's own audit rows go with the pipelined statements; a colleague's, whose
    // signed work this push carried, are appended afterwards as that colleague.
    let audits = futures::future::join_all(
        audit
            .iter()
            .filter(|((actor, _, _), _)| *actor == pusher)
            .map(|((_, action, entity), (ids, patients))| {
                tx.audit(clinic, *action, entity, ids, patients)
            }),
    );
    let known_patients = &known_patients;
    let access = |a, at| audit_access(tx, clinic, pusher, known_patients, a, at);
    let own_accesses = futures::future::join_all(
        accesses
            .iter()
            .filter(|(_, reader, _)| *reader == pusher)
            .map(|(a, _, at)| access(a, *at)),
    );
    // Every answer is awaited, and the first failure in statement order is the one
    // reported: it is the cause (a deadlock, say, which is retried); the statements after
    // it only saw an aborted transaction (which alone would read as a server fault).
    let (record, audits, own_accesses) = tokio::join!(record, audits, own_accesses);
    record?;
    for done in audits.into_iter().chain(own_accesses) {
        done?;
    }
    let mut colleagues: Vec<Uuid> = audit
        .keys()
        .map(|(actor, _, _)| *actor)
        .chain(accesses.iter().map(|(_, reader, _)| *reader))
        .filter(|actor| *actor != pusher)
        .collect();
    colleagues.sort();
    colleagues.dedup();
    for colleague in colleagues {
        tx.act_as(colleague).await?;
        for ((_, action, entity), (ids, patients)) in audit
            .iter()
            .filter(|((actor, _, _), _)| *actor == colleague)
        {
            tx.audit(clinic, *action, entity, ids, patients).await?;
        }
        for (a, _, at) in accesses.iter().filter(|(_, r, _)| *r == colleague) {
            access(a, *at).await?;
        }
        tx.act_as(pusher).await?;
    }
    Ok(Batch {
        response: PushResponse { results },
        reads_recorded: accesses.iter().map(|(a, _, _)| a.access_id).collect(),
    })
}

/// Records device invoice numbers whose invoices were discarded
/// (`invoices::record_cancelled_numbers`). A role that may not issue invoices records none;
/// the attempt is audited as denied, and the push goes on (the device must not be stuck on
/// it).
async fn record_cancelled_numbers(
    tx: &RequestTx,
    clinic: Uuid,
    role: Role,
    numbers: &[CancelledInvoiceNumber],
    pusher: Uuid,
    audit: &mut AuditRows,
) -> Result<(), AppError> {
    if numbers.is_empty() {
        return Ok(());
    }
    if !rules::may(role, Resource::Invoice, Action::Create) {
        let entry = audit
            .entry((pusher, AuditAction::Denied, EntityKind::Invoice.as_str()))
            .or_default();
        entry.0.extend(numbers.iter().map(|n| n.invoice_id));
        return Ok(());
    }
    routes::invoices::record_cancelled_numbers(tx, clinic, numbers).await
}

const RECORD_SQL: &str =
    "INSERT INTO vaidya.sync_mutations (clinic_id, mutation_id, user_id, result)
     SELECT $1, m, $3, r FROM unnest($2::uuid[], $4::jsonb[]) AS t(m, r)";

/// Audits one uploaded access (with this clinic's patients only) as the acting user.
async fn audit_access(
    tx: &RequestTx,
    clinic: Uuid,
    pusher: Uuid,
    known_patients: &std::collections::HashSet<Uuid>,
    a: &LocalAccess,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let patients: Vec<Uuid> = a
        .patient_ids
        .iter()
        .filter(|p| known_patients.contains(p))
        .copied()
        .collect();
    let params: [&(dyn ToSql + Sync); 8] = [
        &clinic,
        &a.action.as_str(),
        &a.entity.as_str(),
        &a.entity_ids,
        &patients,
        &at,
        &a.access_id,
        &pusher,
    ];
    tx.execute(ACCESS_SQL, &params).await?;
    Ok(())
}

/// An uploaded offline access, with when it happened on the device; audited only the first
/// time its id arrives (a retried upload inserts nothing, so appends nothing).
const ACCESS_SQL: &str = "WITH fresh AS (
         INSERT INTO vaidya.uploaded_accesses (clinic_id, access_id, user_id)
         VALUES ($1, $7, $8) ON CONFLICT DO NOTHING RETURNING 1)
     SELECT vaidya.audit_append($1, $2, $3, $4, $5, $6) FROM fresh";

/// Audit rows of a push: (actor, action, entity) → entity and patient ids.
type AuditRows = HashMap<(Uuid, AuditAction, &'static str), AuditedIds>;

/// Refusals audited as denied: no permission, or a signature that does not hold.
fn is_denial(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::Forbidden | ErrorCode::InvalidSignature)
}

/// The `rejected` result of a mutation that failed (a refusal is audited as denied, with
/// the pusher as actor).
fn rejected(m: &Mutation, e: AppError, pusher: Uuid, audit: &mut AuditRows) -> MutationResult {
    let (code, message, field) = e.code_message_field();
    if is_denial(code) {
        let entry = audit
            .entry((pusher, AuditAction::Denied, m.entity.as_str()))
            .or_default();
        entry.0.push(m.entity_id);
    }
    MutationResult::Rejected {
        mutation_id: m.mutation_id,
        code,
        message,
        field,
    }
}

/// Whether a result is kept as the mutation's answer for good (its idempotency record).
/// From a PC, every result is. From a clinic hub, only what changed the clinic (applied, or
/// a conflict recorded in the inbox): a refusal may be the relay's, not the change's (no
/// valid signature; a device invoice series checked against the pushing device, which is
/// the hub), so it is answered but not kept, and the PC's own push of the same change is
/// decided afresh. A refusal writes nothing, so deciding it again doubles nothing.
fn kept(pusher_role: Role, result: &MutationResult) -> bool {
    pusher_role != Role::Hub || !matches!(result, MutationResult::Rejected { .. })
}

/// For a patient create, who it claims to be by (the pusher when unsigned): consecutive
/// creates by one author are inserted set-based, as that author.
fn patient_create_by(m: &Mutation, pusher: Uuid) -> Option<Uuid> {
    (m.entity == EntityKind::Patient && m.op == Operation::Create)
        .then(|| m.author.as_ref().map_or(pusher, |a| a.user_id))
}

/// Applies one mutation as the user it is proven to be by: the pusher, or the colleague
/// whose signature it carries, with that colleague's role and identity (RLS, audit,
/// `doctor_id`, `signed_by` …). Returns the result, the patient, and who it was applied as.
async fn apply_as_author(
    tx: &RequestTx,
    clinic: Uuid,
    authors: &Authors,
    m: &Mutation,
    author: Result<Author, ApiError>,
) -> Result<(MutationResult, Option<Uuid>, Uuid), AppError> {
    let Author {
        user_id: author,
        role,
        not_before,
    } = author?;
    // The act keeps its device time, bounded (a note's signing, an invoice's issue …).
    tx.set_acted_at(Some(clock::act_time(
        m.made_at,
        not_before,
        authors.received,
    )));
    tx.set_mutation(Some(m.mutation_id));
    let outcome = if author == authors.pusher {
        apply_one(tx, clinic, role, m).await
    } else {
        authors
            .act_as_author(tx, author, m.device.as_deref())
            .await?;
        match apply_one(tx, clinic, role, m).await {
            Ok(done) => {
                authors.act_as_pusher(tx).await?;
                Ok(done)
            }
            Err(e) => {
                // The failed statement aborted the (sub)transaction; the caller's rollback
                // to its savepoint restores the database identity, so only ours is reset.
                tx.assume_user(authors.pusher);
                Err(e)
            }
        }
    };
    tx.set_acted_at(None);
    tx.set_mutation(None);
    let (result, patient) = outcome?;
    Ok((result, patient, author))
}

/// Apply a run of new patient creates (at least two, distinct mutation ids); results in
/// order. Invalid ones are rejected (optimistic mode: the attempt fails). The valid ones are
/// inserted by one statement: a counter update that takes `n` consecutive patient numbers,
/// and a multi-row `INSERT … SELECT FROM unnest(…)` under the same RLS policies as a single
/// insert. If that statement fails in careful mode (a duplicate id or ABHA number), it is
/// undone and the run is applied one by one, each under its own savepoint.
async fn apply_patient_run(
    tx: &RequestTx,
    clinic: Uuid,
    authors: &Authors,
    run: &[Mutation],
    run_authors: &[Result<Author, ApiError>],
    run_author: Uuid,
    mode: Mode,
) -> Result<Vec<MutationResult>, AppError> {
    let pusher = authors.pusher;
    let outcome =
        apply_patient_run_as(tx, clinic, authors, run, run_authors, run_author, mode).await;
    match &outcome {
        Ok(_) if run_author != pusher => authors.act_as_pusher(tx).await?,
        Ok(_) => {}
        // The caller's rollback to its savepoint restores the database identity.
        Err(_) => tx.assume_user(pusher),
    }
    outcome
}

/// [`apply_patient_run`], acting as the run's author for its writes once every signature
/// has been checked.
async fn apply_patient_run_as(
    tx: &RequestTx,
    clinic: Uuid,
    authors: &Authors,
    run: &[Mutation],
    run_authors: &[Result<Author, ApiError>],
    run_author: Uuid,
    mode: Mode,
) -> Result<Vec<MutationResult>, AppError> {
    let mut outcomes: Vec<Option<MutationResult>> = vec![None; run.len()];
    let mut rows = Vec::with_capacity(run.len());
    let mut audit = HashMap::new();
    let pusher = authors.pusher;
    let mut role = authors.pusher_role;
    for (k, m) in run.iter().enumerate() {
        let checked = match &run_authors[k] {
            Ok(author) => {
                role = author.role;
                rules::authorize(author.role, Resource::Patient, Action::Create)
                    .map_err(AppError::from)
                    .and_then(|()| create_body::<kinds::Patient>(m))
            }
            Err(refusal) => Err(AppError::from(refusal.clone())),
        };
        match checked {
            Ok(row) => rows.push((k, row)),
            Err(e) if mode == Mode::Optimistic => return Err(e),
            Err(e) if e.fails_request() => return Err(e),
            Err(e) => outcomes[k] = Some(rejected(m, e, pusher, &mut audit)),
        }
    }
    if !rows.is_empty() {
        if run_author != pusher {
            // A run is one author's on one device (runs are cut where either changes).
            authors
                .act_as_author(tx, run_author, run[0].device.as_deref())
                .await?;
        }
        if mode == Mode::Careful {
            tx.execute_simple("SAVEPOINT run").await?;
        }
        let inserted = match routes::patients::insert_many(tx, clinic, &rows).await {
            Ok(versions) => {
                let ids: Vec<Uuid> = versions.keys().copied().collect();
                routes::patients::flag_duplicates(tx, clinic, &ids)
                    .await
                    .map(|()| versions)
            }
            Err(e) => Err(e),
        };
        match inserted {
            Ok(versions) => {
                if mode == Mode::Careful {
                    tx.execute_simple("RELEASE SAVEPOINT run").await?;
                }
                for (k, _) in &rows {
                    let version = *versions.get(&run[*k].entity_id).ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!("patient row not returned"))
                    })?;
                    outcomes[*k] = Some(applied(&run[*k], version));
                }
            }
            Err(e) if mode == Mode::Optimistic => return Err(e),
            Err(e) if e.fails_request() => return Err(e),
            Err(_) => {
                tx.execute_simple("ROLLBACK TO SAVEPOINT run; RELEASE SAVEPOINT run")
                    .await?;
                for (k, _) in &rows {
                    let m = &run[*k];
                    tx.execute_simple("SAVEPOINT mutation").await?;
                    outcomes[*k] = Some(match apply_one(tx, clinic, role, m).await {
                        Ok((result, _)) => {
                            tx.execute_simple("RELEASE SAVEPOINT mutation").await?;
                            result
                        }
                        Err(e) if e.fails_request() => return Err(e),
                        Err(e) => {
                            tx.execute_simple(
                                "ROLLBACK TO SAVEPOINT mutation; RELEASE SAVEPOINT mutation",
                            )
                            .await?;
                            rejected(m, e, pusher, &mut audit)
                        }
                    });
                }
            }
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every mutation of the run has an outcome"))
        .collect())
}

/// Entity ids and patient ids of one audit row.
type AuditedIds = (Vec<Uuid>, Vec<Uuid>);

/// Parse and validate a create body of `E` (the shared rules, as REST and the device apply
/// them), making sure its id is the mutation's entity id.
fn create_body<E: Entity>(m: &Mutation) -> Result<Valid<E::New>, AppError> {
    let mut data = m
        .data
        .clone()
        .ok_or_else(|| AppError::field("data", "A create needs data."))?;
    let obj = data
        .as_object_mut()
        .ok_or_else(|| AppError::field("data", "data must be an object."))?;
    match obj.get("id") {
        None | Some(Value::Null) => {
            obj.insert("id".into(), Value::String(m.entity_id.to_string()));
        }
        Some(v) if v.as_str() == Some(m.entity_id.to_string().as_str()) => {}
        Some(_) => {
            return Err(AppError::field(
                "data.id",
                "data.id differs from entity_id.",
            ))
        }
    }
    Ok(entity::parse_new::<E>(data, today())?)
}

fn applied(m: &Mutation, version: i64) -> MutationResult {
    MutationResult::Applied {
        mutation_id: m.mutation_id,
        version,
        conflicts: Vec::new(),
        addendum_id: None,
    }
}

/// Apply one mutation; returns its result and the patient it concerns (for the audit).
/// What a device may do with each kind, and how, is the kind's `EntitySpec`; the work is
/// the kind's `Store`.
async fn apply_one(
    tx: &RequestTx,
    clinic: Uuid,
    role: Role,
    m: &Mutation,
) -> Result<(MutationResult, Option<Uuid>), AppError> {
    let spec = m.entity.spec();
    match m.op {
        Operation::Create if spec.creatable => {
            rules::authorize(role, spec.resource(), Action::Create)?;
            for_each_kind!(m.entity, E => create::<E>(tx, clinic, m).await)
        }
        Operation::Update if spec.updates == Updates::MergeFields => {
            rules::authorize(role, spec.resource(), Action::Update)?;
            for_each_kind!(m.entity, E => merge_update::<E>(tx, clinic, role, m).await)
        }
        Operation::Update if spec.updates == Updates::Resolve => {
            rules::authorize(role, spec.resource(), Action::Update)?;
            let version = overwrite(tx, clinic, m.entity, m.entity_id, new_values(m)?).await?;
            Ok((applied(m, version), None))
        }
        // `cancel` is not a field but an act on an issued invoice (offline too).
        Operation::Update
            if m.entity == EntityKind::Invoice && m.changes.contains_key("cancel") =>
        {
            rules::authorize(role, Resource::Invoice, Action::Cancel)?;
            cancel_act(tx, clinic, m).await
        }
        Operation::Delete if spec.deletable => {
            rules::authorize(role, spec.resource(), Action::Delete)?;
            tombstone_idempotent(tx, clinic, m).await
        }
        Operation::Update | Operation::Delete if spec.updates == Updates::Immutable => {
            // Whoever may issue such a record learns why the edit did not apply (the
            // inbox); nobody may change it.
            rules::authorize(role, spec.resource(), Action::Create)?;
            let id = conflicts::record(
                tx,
                clinic,
                NewConflict {
                    kind: ConflictKind::Immutable,
                    entity: m.entity,
                    entity_id: m.entity_id,
                    field: None,
                    server_value: Value::Null,
                    client_value: Value::Object(m.changes.clone()),
                },
            )
            .await?;
            let message = format!(
                "An issued {} cannot change; the edit is in the conflict inbox.",
                m.entity.as_str()
            );
            Ok((
                MutationResult::Conflict {
                    mutation_id: m.mutation_id,
                    kind: ConflictKind::Immutable,
                    conflict_id: id,
                    message,
                },
                None,
            ))
        }
        Operation::Create | Operation::Update | Operation::Delete => Err(AppError::client(
            ErrorCode::InvalidParameter,
            format!(
                "{} {:?} is not something a device can do.",
                m.entity.as_str(),
                m.op
            ),
        )),
    }
}

/// A device's cancellation of an invoice: the act alone (`{"cancel": {"value": {"reason"}}}`),
/// through the same rules as `POST …/cancel`. An invoice another device cancelled first
/// stays as it is and the act counts as done: both meant the same.
async fn cancel_act(
    tx: &RequestTx,
    clinic: Uuid,
    m: &Mutation,
) -> Result<(MutationResult, Option<Uuid>), AppError> {
    let mut values = new_values(m)?;
    let (Some(value), true) = (values.remove("cancel"), values.is_empty()) else {
        return Err(AppError::field(
            "changes",
            "A cancellation changes nothing else on the invoice.",
        ));
    };
    let cancel: CancelInvoice = serde_json::from_value(value)
        .map_err(|_| AppError::field("changes.cancel", "A cancellation gives its reason."))?;
    let cancel = cancel.validate(today())?;
    let current = routes::invoices::load(tx, clinic, m.entity_id).await?;
    let invoice = if current.cancellation.is_some() {
        current
    } else {
        routes::invoices::cancel_invoice(tx, clinic, m.entity_id, cancel).await?
    };
    Ok((applied(m, invoice.version), Some(invoice.patient_id)))
}

/// A device's create of kind `E`, through the shared rules and the kind's own insert.
async fn create<E: Store>(
    tx: &RequestTx,
    clinic: Uuid,
    m: &Mutation,
) -> Result<(MutationResult, Option<Uuid>), AppError> {
    let record = E::insert(tx, clinic, m.parent_id, create_body::<E>(m)?).await?;
    let conflicts = E::after_device_write(tx, clinic, &record, None).await?;
    Ok((
        MutationResult::Applied {
            mutation_id: m.mutation_id,
            version: record.version(),
            conflicts,
            addendum_id: None,
        },
        record.patient_id(),
    ))
}

async fn tombstone_idempotent(
    tx: &RequestTx,
    clinic: Uuid,
    m: &Mutation,
) -> Result<(MutationResult, Option<Uuid>), AppError> {
    let table = m
        .entity
        .spec()
        .server_table
        .ok_or_else(AppError::not_found)?;
    let row = tx
        .query_opt(
            // The table name comes from the entity registry, never from input.
            &format!("UPDATE vaidya.{table} SET deleted_at = coalesce(deleted_at, now()) WHERE clinic_id = $1 AND id = $2 RETURNING version"),
            &[&clinic, &m.entity_id],
        )
        .await?
        .ok_or_else(AppError::not_found)?;
    let patient = (m.entity == EntityKind::Patient).then_some(m.entity_id);
    Ok((applied(m, row.get(0)), patient))
}

/// The new values an update carries (field name → value), each change checked for shape.
fn new_values(m: &Mutation) -> Result<Map<String, Value>, AppError> {
    m.changes
        .iter()
        .map(|(field, raw)| {
            let change: FieldChange = serde_json::from_value(raw.clone()).map_err(|_| {
                AppError::field(
                    &format!("changes.{field}"),
                    "Each change needs a value and a base.",
                )
            })?;
            Ok((field.clone(), change.value))
        })
        .collect()
}

/// Equal as the user would see them: instants compare as instants, not as text.
fn same(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        if let (Ok(x), Ok(y)) = (x.parse::<DateTime<Utc>>(), y.parse::<DateTime<Utc>>()) {
            return x == y;
        }
    }
    a == b
}

async fn merge_update<E: Store>(
    tx: &RequestTx,
    clinic: Uuid,
    role: Role,
    m: &Mutation,
) -> Result<(MutationResult, Option<Uuid>), AppError> {
    let Some((server, deleted, patient)) = store::load_json::<E>(tx, clinic, m.entity_id).await?
    else {
        return Err(AppError::not_found());
    };
    if deleted {
        let id = conflicts::record(
            tx,
            clinic,
            NewConflict {
                kind: ConflictKind::Deleted,
                entity: m.entity,
                entity_id: m.entity_id,
                field: None,
                server_value: Value::Null,
                client_value: Value::Object(m.changes.clone()),
            },
        )
        .await?;
        let message = format!(
            "The {} was deleted on the server; the edit is in the conflict inbox.",
            m.entity.as_str()
        );
        return Ok((
            MutationResult::Conflict {
                mutation_id: m.mutation_id,
                kind: ConflictKind::Deleted,
                conflict_id: id,
                message,
            },
            patient,
        ));
    }

    // `sign` is not a field but an act: a doctor signing the note (offline too), after the
    // other fields of the same mutation are applied.
    let wants_sign = E::KIND == EntityKind::Encounter
        && m.changes
            .get("sign")
            .and_then(|c| c.get("value"))
            .and_then(Value::as_bool)
            == Some(true);
    if wants_sign {
        rules::authorize(role, Resource::Encounter, Action::Sign)?;
    }
    let mut edits = new_values(m)?;
    edits.remove("sign");

    let mut apply = Map::new();
    let mut lost = Vec::new();
    for (field, raw) in &m.changes {
        let Some(value) = edits.get(field) else {
            continue;
        };
        let base = raw.get("base").unwrap_or(&Value::Null);
        let now = server.get(field).cloned().unwrap_or(Value::Null);
        if same(&now, base) || same(&now, value) {
            apply.insert(field.clone(), value.clone());
        } else {
            lost.push(FieldConflict {
                field: field.clone(),
                server_value: now,
                client_value: value.clone(),
            });
        }
    }

    // A signed note never changes: the offline edit is kept as an addendum.
    if E::KIND == EntityKind::Encounter && !server["signed_at"].is_null() {
        let version = server["version"].as_i64().unwrap_or(0);
        if edits.is_empty() {
            // Signing an already signed note: nothing to do.
            return Ok((applied(m, version), patient));
        }
        let mut text = String::from("Edited on a device after the note was signed:");
        for (field, value) in &edits {
            let shown = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            text.push_str(&format!("\n{field}: {shown}"));
        }
        let (addendum_id, e) = routes::encounters::insert_addendum(
            tx,
            clinic,
            m.entity_id,
            // Derived from the change, so a clinic hub and the group server that both apply
            // it make the same addendum (the group server's replaces the hub's in its copy).
            NewAddendum {
                id: Some(Uuid::new_v5(&m.mutation_id, b"addendum")),
                text,
            }
            .validate(today())?,
        )
        .await?;
        return Ok((
            MutationResult::Applied {
                mutation_id: m.mutation_id,
                version: e.version,
                conflicts: Vec::new(),
                addendum_id: Some(addendum_id),
            },
            patient,
        ));
    }

    let mut version = server["version"].as_i64().unwrap_or(0);
    let mut flagged = Vec::new();
    if !apply.is_empty() {
        let changed: Vec<String> = apply.keys().cloned().collect();
        let record = E::patch(
            tx,
            clinic,
            m.entity_id,
            entity::parse_patch::<E>(apply, today())?,
        )
        .await?;
        version = record.version();
        flagged = E::after_device_write(tx, clinic, &record, Some(&changed)).await?;
    }
    if wants_sign {
        version = routes::encounters::sign_note(tx, clinic, m.entity_id)
            .await?
            .version;
    }
    for c in &lost {
        conflicts::record(
            tx,
            clinic,
            NewConflict {
                kind: ConflictKind::SameField,
                entity: m.entity,
                entity_id: m.entity_id,
                field: Some(&c.field),
                server_value: c.server_value.clone(),
                client_value: c.client_value.clone(),
            },
        )
        .await?;
    }
    lost.extend(flagged);
    Ok((
        MutationResult::Applied {
            mutation_id: m.mutation_id,
            version,
            conflicts: lost,
            addendum_id: None,
        },
        patient,
    ))
}

/// Set fields of a record to values through its kind's own validation and patch; returns
/// the new version. Also how a conflict resolved as `use_client` applies the device's value
/// (boxed: resolving a conflict is itself such an update).
pub fn overwrite<'a>(
    tx: &'a RequestTx,
    clinic: Uuid,
    entity: EntityKind,
    id: Uuid,
    values: Map<String, Value>,
) -> BoxFuture<'a, Result<i64, AppError>> {
    Box::pin(async move {
        if entity.spec().updates == Updates::Immutable {
            return Err(AppError::client(
                ErrorCode::InvalidState,
                "This record cannot be edited.",
            ));
        }
        for_each_kind!(entity, E => {
            let patch = entity::parse_patch::<E>(values, today())?;
            Ok(E::patch(tx, clinic, id, patch).await?.version())
        })
    })
}
