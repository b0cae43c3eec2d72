//! The sync protocol: push a batch of offline mutations, pull changes after a cursor, and
//! the live notification that tells online clients to pull.
//!
//! - **Push** (`POST /v1/clinics/{clinic_id}/sync/push`) is idempotent: every mutation has a
//!   client-generated id, and a retried batch gets the stored results instead of applying
//!   anything twice. Each mutation gets its own [`MutationResult`]; one bad mutation never
//!   blocks the rest.
//! - **Pull** (`GET /v1/clinics/{clinic_id}/sync/pull?cursor=…&limit=…`) returns whole
//!   entities (an encounter with its addenda, an invoice with its lines and payments) in
//!   commit-safe order. The cursor is opaque to clients. A change is only handed out once
//!   every transaction that could commit before it has finished, so no change is skipped
//!   even when server transactions commit out of order.
//! - **Live** (`GET /v1/clinics/{clinic_id}/sync/live`, Server-Sent Events) sends a
//!   `changed` event whenever the clinic's data changes; clients then pull.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::{AuditAction, CancelledInvoiceNumber};
use crate::ErrorCode;

/// Largest push batch the server accepts.
pub const MAX_PUSH_BATCH: usize = 500;
/// Largest pull page.
pub const MAX_PULL_LIMIT: i64 = 5000;

/// What a mutation or change is about. Child rows travel inside their parent entity
/// (addenda in encounters, items in prescriptions, lines, payments and credit notes in
/// invoices); the mutation kinds `addendum`, `payment` and `credit_note` create a child of an
/// existing parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Patient,
    Appointment,
    Encounter,
    Addendum,
    Prescription,
    Invoice,
    Payment,
    Conflict,
    Allergy,
    CreditNote,
    CatalogueItem,
}

impl EntityKind {
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Patient,
        EntityKind::Appointment,
        EntityKind::Encounter,
        EntityKind::Addendum,
        EntityKind::Prescription,
        EntityKind::Invoice,
        EntityKind::Payment,
        EntityKind::Conflict,
        EntityKind::Allergy,
        EntityKind::CreditNote,
        EntityKind::CatalogueItem,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Patient => "patient",
            EntityKind::Appointment => "appointment",
            EntityKind::Encounter => "encounter",
            EntityKind::Addendum => "addendum",
            EntityKind::Prescription => "prescription",
            EntityKind::Invoice => "invoice",
            EntityKind::Payment => "payment",
            EntityKind::Conflict => "conflict",
            EntityKind::Allergy => "allergy",
            EntityKind::CreditNote => "credit_note",
            EntityKind::CatalogueItem => "catalogue_item",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// One field edited offline: the new value and the value it had when the user edited it
/// (the base). The server applies the edit when its current value still equals the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    pub value: Value,
    pub base: Value,
}

/// One change made on a device.
///
/// - `create`: `data` is the same body as the REST create (`NewPatient`, `NewAppointment`,
///   `NewEncounter`, `NewAddendum` with `parent_id` = the encounter, `NewPrescription`,
///   `NewInvoice` with the device's `series` and `number`, `NewPayment` or `NewCreditNote` (with
///   the device's `series` and `number`) with `parent_id` = the invoice); `entity_id` is the new row's id and must equal `data.id` when that is given.
/// - `update`: `changes` maps field names (as in the entity's JSON) to [`FieldChange`]s.
///   For `conflict`, `changes` holds `{"resolution": {"value": "keep_server" | "use_client", "base": null}}`.
///   For `encounter`, `"sign": {"value": true, "base": false}` signs the note as the pushing
///   doctor after the other changes of the same mutation apply.
///   For `invoice`, the one update is the act `"cancel": {"value": {"reason": "…"}, "base":
///   null}` alone (`CancelInvoice`), by its author at the change's `made_at`; an invoice
///   already cancelled stays as it is. A refund is a `NewPayment` with a negative amount.
/// - `delete`: a tombstone (patients and appointments only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    pub mutation_id: Uuid,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub op: Operation,
    /// The server version the edit was made against (absent for creates).
    #[serde(default)]
    pub base_version: Option<i64>,
    /// Parent entity id for `addendum` (an encounter) and `payment` (an invoice).
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub changes: Map<String, Value>,
    /// When the user made the change on the device. Never used to order changes; it is the
    /// act's own time where the act has one (a note's signing, an invoice's or a
    /// prescription's issue, a payment's receipt), bounded by the server (`rules::clock`).
    pub made_at: DateTime<Utc>,
    /// Who made the change, proven by their device key's signature. Absent: the pushing
    /// user made it. Present: the server applies the change as this author, after checking
    /// the signature ([`crate::authorship`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub author: Option<crate::authorship::Authorship>,
    /// The device that made the change (the name it gives as `x-vaidya-device`), signed with
    /// it. A PC's own push is known by its header; a change relayed by the clinic hub is
    /// checked against this instead (its device invoice series, the device a conflict names),
    /// since the hub's header is the hub's. Absent on changes made before devices named
    /// themselves here, and on unsigned ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub device: Option<String>,
}

/// An access to patient data made on the device (offline reads are audited too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LocalAccess {
    /// Made on the device when the access was recorded: the server audits each id once, so
    /// an upload retried after a lost answer is not audited twice.
    pub access_id: Uuid,
    pub action: AuditAction,
    pub entity: EntityKind,
    pub entity_ids: Vec<Uuid>,
    pub patient_ids: Vec<Uuid>,
    /// When it happened on the device (bounded by the server: see `rules::clock`).
    pub at: DateTime<Utc>,
    /// Who read, proven like a mutation's author. Absent: the pushing user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub author: Option<crate::authorship::Authorship>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub mutations: Vec<Mutation>,
    #[serde(default)]
    pub local_accesses: Vec<LocalAccess>,
    /// Device invoice numbers whose invoices were discarded (see
    /// [`CancelledInvoiceNumber`]); recorded once each, a number an issued invoice holds is
    /// left alone. Sent only when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled_numbers: Vec<CancelledInvoiceNumber>,
}

/// A field whose edit lost: the server kept `server_value`; `client_value` is recorded in
/// the clinic's conflict inbox for a person to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldConflict {
    pub field: String,
    pub server_value: Value,
    pub client_value: Value,
}

/// Why a mutation became a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The same field was edited on the server and on the device; the server's value stays.
    SameField,
    /// The record was deleted on the server; the offline edit is kept only in the inbox.
    Deleted,
    /// Two bookings of the same doctor overlap; both are kept.
    DoubleBooking,
    /// A signed note or issued prescription was edited; see the addendum or the inbox.
    Immutable,
    /// A new patient is probably one the clinic already has (`rules::duplicates`); both
    /// records are kept until a person merges them or says they are two people.
    DuplicatePatient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MutationResult {
    /// Applied (possibly partly: `conflicts` lists fields whose edit lost).
    Applied {
        mutation_id: Uuid,
        version: i64,
        #[serde(default)]
        conflicts: Vec<FieldConflict>,
        /// Set when an edit of a signed note was turned into this addendum.
        #[serde(default)]
        addendum_id: Option<Uuid>,
    },
    /// Not applied; recorded in the conflict inbox as `conflict_id`.
    Conflict {
        mutation_id: Uuid,
        kind: ConflictKind,
        conflict_id: Uuid,
        message: String,
    },
    /// Not applied and will never apply as sent (bad data, no permission).
    Rejected {
        mutation_id: Uuid,
        code: ErrorCode,
        message: String,
        /// The offending field, when one is to blame (absent in results stored before
        /// servers sent it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

impl MutationResult {
    pub fn mutation_id(&self) -> Uuid {
        match self {
            MutationResult::Applied { mutation_id, .. }
            | MutationResult::Conflict { mutation_id, .. }
            | MutationResult::Rejected { mutation_id, .. } => *mutation_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PushResponse {
    /// One result per mutation, in request order.
    pub results: Vec<MutationResult>,
}

/// What a PC asks its clinic hub about changes the hub took in and forwards
/// (`POST /v1/clinics/{id}/sync/relay-answers`, answered by a hub only): at most
/// [`MAX_PUSH_BATCH`] mutation ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayAnswersRequest {
    pub mutation_ids: Vec<Uuid>,
}

/// The hub's account of the asked changes. An id in neither list is not one the hub holds
/// (a hub set up again from scratch, say): its PC sends that change again itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RelayAnswersResponse {
    /// The group server's answer to each asked change the hub has forwarded (a change it
    /// set aside because the group server refused its content is answered `rejected`). An
    /// applied change's lost fields are not repeated here: the group server's conflict
    /// inbox has them.
    pub answers: Vec<MutationResult>,
    /// Changes the hub holds and has not forwarded yet.
    pub waiting: Vec<Uuid>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// Opaque cursor from the previous page; absent for an initial sync.
    pub cursor: Option<String>,
    /// Page size, 1–5000 (default 1000).
    pub limit: Option<i64>,
    /// The page's layout: `changes` (the default, [`PullResponse`]) or `compact`
    /// ([`crate::compact_pull::CompactPullResponse`]).
    #[cfg_attr(feature = "ts", ts(skip))]
    pub format: Option<crate::compact_pull::PullFormat>,
}

/// One entity's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Change {
    pub entity: EntityKind,
    pub id: Uuid,
    pub version: i64,
    /// A tombstone: the client removes the entity from its cache.
    pub deleted: bool,
    /// The entity as the REST API returns it (`Patient`, `Encounter` with addenda, …).
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// Pass this back to continue; store it only after applying `changes`.
    pub cursor: String,
    /// More changes are ready now; pull again at once.
    pub has_more: bool,
    /// On an initial sync (no cursor), about how many entities there are in all.
    pub estimated_total: Option<i64>,
    /// Changes after the cursor exist but wait for an older transaction (possibly of
    /// another clinic) to finish; pull again shortly (tens of milliseconds).
    #[serde(default)]
    pub settling: bool,
}

/// Where a hub's feed continues (`GET /v1/clinics/{id}/hub/feed`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HubFeedQuery {
    /// Opaque cursor from the previous page; absent for the first.
    pub cursor: Option<String>,
    /// Page size, 1–5000 (default 1000).
    pub limit: Option<i64>,
}

/// One page of a clinic's feed to its hub (`GET /v1/clinics/{id}/hub/feed`, the clinic's
/// hub only): the stored rows of every change-stamped table, children too, in change order.
/// The hub writes them into its own database as they are (ARCHITECTURE.md, "The clinic
/// hub"), so the feed is tied to the database schema, which `schema` names: a hub applies
/// pages only of the schema it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HubFeedPage {
    /// The group server's last migration; the hub refuses a page of another.
    pub schema: String,
    pub rows: Vec<ReplicaRow>,
    /// Pass this back to continue; keep it only with the rows applied.
    pub cursor: String,
    /// More rows are ready now; fetch again at once.
    pub has_more: bool,
    /// Rows after the cursor wait for an older transaction to finish; fetch again shortly.
    #[serde(default)]
    pub settling: bool,
}

/// A stored row of `vaidya.<table>` as JSON (column name to value), without its change
/// stamps, which each database keeps its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaRow {
    pub table: String,
    pub row: Value,
}

/// A conflict in the clinic's inbox, synced to every device of the clinic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConflictRecord {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub kind: ConflictKind,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub field: Option<String>,
    pub server_value: Value,
    pub client_value: Value,
    pub user_id: Option<Uuid>,
    pub device: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// How a person resolved a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Keep what the server has; dismiss the device's value.
    KeepServer,
    /// Apply the device's value now.
    UseClient,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ResolveConflict {
    pub resolution: Resolution,
}

/// The event name of live notifications.
pub const LIVE_EVENT: &str = "changed";
