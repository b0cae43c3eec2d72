//! The conflict inbox: conflicts the sync recorded (same-field edits, edits of deleted or
//! signed records, double bookings), synced to every device of the clinic and resolved by
//! a person, through REST or as a sync mutation.

use axum::extract::State;
use axum::Json;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, Page, PageQuery};
use vaidya_shared::sync::{ConflictKind, ConflictRecord, EntityKind, Resolution, ResolveConflict};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::routes::Paging;
use crate::store::Store;
use vaidya_shared::entity::{kinds, Unchangeable};
use vaidya_shared::rules::{Action, Resource, Valid};

pub const COLUMNS: &str = "id, clinic_id, kind, entity, entity_id, field, server_value, client_value, user_id, device, created_at, resolved_at, version";

fn kind_str(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::SameField => "same_field",
        ConflictKind::Deleted => "deleted",
        ConflictKind::DoubleBooking => "double_booking",
        ConflictKind::Immutable => "immutable",
        ConflictKind::DuplicatePatient => "duplicate_patient",
    }
}

fn parse_kind(s: &str) -> Option<ConflictKind> {
    match s {
        "same_field" => Some(ConflictKind::SameField),
        "deleted" => Some(ConflictKind::Deleted),
        "double_booking" => Some(ConflictKind::DoubleBooking),
        "immutable" => Some(ConflictKind::Immutable),
        "duplicate_patient" => Some(ConflictKind::DuplicatePatient),
        _ => None,
    }
}

pub fn from_row(r: &Row) -> Result<ConflictRecord, AppError> {
    Ok(ConflictRecord {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        kind: crate::routes::db_enum(r, "kind", parse_kind)?,
        entity: crate::routes::db_enum(r, "entity", EntityKind::parse)?,
        entity_id: r.get("entity_id"),
        field: r.get("field"),
        server_value: r.get("server_value"),
        client_value: r.get("client_value"),
        user_id: r.get("user_id"),
        device: r.get("device"),
        created_at: r.get("created_at"),
        resolved_at: r.get("resolved_at"),
        version: r.get("version"),
    })
}

/// One conflict to record.
pub struct NewConflict<'a> {
    pub kind: ConflictKind,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub field: Option<&'a str>,
    pub server_value: Value,
    pub client_value: Value,
}

/// Record a conflict for the current user and device; returns its id.
///
/// The id is derived from what raised the conflict where that is known: a duplicate
/// patient's from the new patient (registered once), any other from the device change being
/// applied (`RequestTx::mutation`) and what it conflicts with. A clinic hub and the group
/// server that apply the same change (the hub's relay, issue 11) then record it under one
/// id, and the group server's record replaces the hub's in the hub's copy rather than
/// standing beside it. Otherwise (a REST write) a new id.
pub async fn record(tx: &RequestTx, clinic: Uuid, c: NewConflict<'_>) -> Result<Uuid, AppError> {
    let id = match (c.kind, tx.mutation()) {
        (ConflictKind::DuplicatePatient, _) => Uuid::new_v5(&c.entity_id, b"duplicate_patient"),
        (kind, Some(mutation)) => Uuid::new_v5(
            &mutation,
            format!(
                "{}|{}|{}|{}|{}",
                kind_str(kind),
                c.entity.as_str(),
                c.entity_id,
                c.field.unwrap_or(""),
                c.server_value
            )
            .as_bytes(),
        ),
        (_, None) => Uuid::now_v7(),
    };
    tx.execute(
        "INSERT INTO vaidya.sync_conflicts (id, clinic_id, kind, entity, entity_id, field, server_value, client_value, user_id, device)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif(current_setting('app.device', true), ''))",
        &[&id, &clinic, &kind_str(c.kind), &c.entity.as_str(), &c.entity_id, &c.field, &c.server_value, &c.client_value, &tx.user_id()],
    )
    .await?;
    Ok(id)
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<ConflictRecord, AppError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM vaidya.sync_conflicts WHERE clinic_id = $1 AND id = $2"),
        &[&clinic, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()?
    .ok_or_else(AppError::not_found)
}

/// Resolve a conflict. `use_client` applies the device's value now (through the same rules
/// as an edit); `keep_server` only closes it.
pub async fn resolve(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    resolution: Resolution,
) -> Result<ConflictRecord, AppError> {
    let c = load(tx, clinic, id).await?;
    if c.resolved_at.is_some() {
        return Ok(c);
    }
    if resolution == Resolution::UseClient {
        let Some(field) = c.field.clone() else {
            return Err(AppError::client(
                ErrorCode::InvalidState,
                "This conflict has no single value to apply; edit the record instead.",
            ));
        };
        // Taking the device's value is an edit of the record: the caller must be one who may
        // edit it (as `OpenClinic::resolve_conflict` checks on the device).
        tx.authorize(clinic, Resource::from(c.entity), Action::Update)
            .await?;
        let mut changes = serde_json::Map::new();
        changes.insert(field, c.client_value.clone());
        super::push::overwrite(tx, clinic, c.entity, c.entity_id, changes).await?;
    }
    tx.execute(
        "UPDATE vaidya.sync_conflicts SET resolved_at = now(), resolved_by = $3 WHERE clinic_id = $1 AND id = $2",
        &[&clinic, &id, &tx.user_id()],
    )
    .await?;
    load(tx, clinic, id).await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/conflicts", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<ConflictRecord>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<ConflictRecord>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Conflict, Action::Read).await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.sync_conflicts WHERE clinic_id = $1 AND resolved_at IS NULL
                         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
                    ),
                    &[&clinic, &paging.fetch(), &paging.offset],
                )
                .await?;
            let page = paging.page(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?);
            let ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
            tx.audit(clinic, AuditAction::List, "conflict", &ids, &[]).await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/conflicts/{id}/resolve", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = ResolveConflict,
    responses((status = 200, body = ConflictRecord), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn resolve_handler(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<ResolveConflict>,
) -> Result<Json<ConflictRecord>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Conflict, Action::Update)
                .await?;
            let c = resolve(tx, clinic, id, body.resolution).await?;
            tx.audit(
                clinic,
                AuditAction::Update,
                "conflict",
                &[id, c.entity_id],
                &[],
            )
            .await?;
            Ok(Json(c))
        })
        .await
}

/// Conflicts are made by the server; a device's only change is how a person resolved one.
impl Store for kinds::Conflict {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<ConflictRecord, AppError> {
        from_row(r)
    }
    async fn insert(
        _tx: &RequestTx,
        _clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<Unchangeable>,
    ) -> Result<ConflictRecord, AppError> {
        match new.into_inner() {}
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<ResolveConflict>,
    ) -> Result<ConflictRecord, AppError> {
        resolve(tx, clinic, id, patch.into_inner().resolution).await
    }
}
