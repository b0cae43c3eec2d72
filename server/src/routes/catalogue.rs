//! The clinic's catalogue of services and goods: every member reads it (the invoice editor
//! offers it), the clinic's admins add items and change their name, price and whether they
//! are offered. Writes are audited; the catalogue holds no patient data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, CatalogueItem, CatalogueItemPatch, NewCatalogueItem};
use vaidya_shared::entity::kinds;
use vaidya_shared::gst::{self, TaxTreatment};
use vaidya_shared::rules::{Action, Resource, Valid, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use super::today;
use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};
use crate::store::Store;

pub const COLUMNS: &str = "id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise, active, version, created_at, updated_at";
const ENTITY: &str = "catalogue_item";

/// A row as the API shows it; a treatment this server does not know is an error.
pub fn from_row(r: &Row) -> Result<CatalogueItem, AppError> {
    let treatment: &str = r.get("treatment");
    Ok(CatalogueItem {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        name: r.get("name"),
        sac_hsn: r.get("sac_hsn"),
        treatment: TaxTreatment::parse(treatment)
            .ok_or_else(|| anyhow::anyhow!("unknown tax treatment {treatment:?}"))?,
        gst_rate_bp: r.get::<_, i32>("gst_rate_bp").max(0) as u32,
        unit: r.get("unit"),
        price_paise: r.get("price_paise"),
        active: r.get("active"),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<CatalogueItem, AppError> {
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM vaidya.catalogue_items WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
            &[&clinic, &id],
        )
        .await?
        .ok_or_else(AppError::not_found)?;
    from_row(&row)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/catalogue", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CatalogueItem>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// The clinic's catalogue, offered items first, by name.
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<CatalogueItem>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::CatalogueItem, Action::Read)
                .await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.catalogue_items WHERE clinic_id = $1 AND deleted_at IS NULL
                         ORDER BY active DESC, lower(name), id"
                    ),
                    &[&clinic],
                )
                .await?;
            Ok(Json(rows.iter().map(from_row).collect::<Result<_, _>>()?))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/catalogue", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewCatalogueItem,
    responses((status = 201, body = CatalogueItem), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewCatalogueItem>,
) -> Result<(StatusCode, Json<CatalogueItem>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::CatalogueItem, Action::Create)
                .await?;
            let item = insert(tx, clinic, new.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Create, ENTITY, &[item.id], &[])
                .await?;
            Ok((StatusCode::CREATED, Json(item)))
        })
        .await
}

/// Adds an item, checked by the shared rules (as a bill's line, with today's rates).
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewCatalogueItem>,
) -> Result<CatalogueItem, AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let treatment = new
        .treatment
        .unwrap_or_else(|| TaxTreatment::default_for(new.gst_rate_bp));
    let unit = new
        .unit
        .clone()
        .unwrap_or_else(|| gst::default_unit(&new.sac_hsn).to_owned());
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO vaidya.catalogue_items (id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            &[&id, &clinic, &new.name, &new.sac_hsn, &treatment.as_str(), &(new.gst_rate_bp as i32), &unit, &new.price_paise],
        )
        .await?;
    from_row(&row)
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/catalogue/{id}", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = CatalogueItemPatch,
    responses((status = 200, body = CatalogueItem), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, description = "`version_conflict`: changed since `base_version`", body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<CatalogueItemPatch>,
) -> Result<Json<CatalogueItem>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::CatalogueItem, Action::Update)
                .await?;
            let item = apply_patch(tx, clinic, id, patch.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[])
                .await?;
            Ok(Json(item))
        })
        .await
}

/// Renames, reprices, retires or offers again an item. With `base_version`, an item changed
/// since is a conflict.
pub async fn apply_patch(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    patch: Valid<CatalogueItemPatch>,
) -> Result<CatalogueItem, AppError> {
    let row = tx
        .query_opt(
            &format!(
                "UPDATE vaidya.catalogue_items SET name = coalesce($3, name), price_paise = coalesce($4, price_paise),
                        active = coalesce($5, active)
                 WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL
                   AND ($6::bigint IS NULL OR version = $6)
                 RETURNING {COLUMNS}"
            ),
            &[&clinic, &id, &patch.name, &patch.price_paise, &patch.active, &patch.base_version],
        )
        .await?;
    match row {
        Some(row) => from_row(&row),
        None => {
            load(tx, clinic, id).await?; // 404 when missing
            Err(AppError::client(
                ErrorCode::VersionConflict,
                "The item was changed by someone else; reload and try again.",
            ))
        }
    }
}

impl Store for kinds::CatalogueItem {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<CatalogueItem, AppError> {
        from_row(r)
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewCatalogueItem>,
    ) -> Result<CatalogueItem, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<CatalogueItemPatch>,
    ) -> Result<CatalogueItem, AppError> {
        apply_patch(tx, clinic, id, patch).await
    }
}
