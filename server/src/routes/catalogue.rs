//! The clinic's catalogue of services and goods: every member reads it (the invoice editor
//! offers it), the clinic's admins add items and change their name, price and whether they
//! are offered. The admin of several branches of a group keeps them as one catalogue: an
//! item copied to other branches keeps its id and tax identity, each branch its own price.
//! Writes are audited in each branch's trail; the catalogue holds no patient data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, CatalogueItem, CatalogueItemPatch, GroupBranch, GroupCatalogue,
    GroupCatalogueItem, NewCatalogueItem, NewGroupCatalogueItem,
};
use vaidya_shared::entity::kinds;
use vaidya_shared::gst::{self, TaxTreatment};
use vaidya_shared::rules::{Action, Resource, Valid, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use super::{administered_branches, today};
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

#[utoipa::path(get, path = "/v1/groups/{group_id}/catalogue", tag = "invoices", security(("bearer" = [])),
    params(("group_id" = Uuid, Path)),
    responses((status = 200, body = GroupCatalogue), (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: the caller administers no branch of this group", body = ApiError)))]
/// The group's catalogue over the branches the caller administers: each item once, with
/// every branch's copy of it.
pub async fn group_list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(group): ApiPath<Uuid>,
) -> Result<Json<GroupCatalogue>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            let branches = administered_branches(tx, group).await?;
            let items = group_items(tx, &branches, None).await?;
            Ok(Json(GroupCatalogue {
                group_id: group,
                branches,
                items,
            }))
        })
        .await
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/catalogue", tag = "invoices", security(("bearer" = [])),
    params(("group_id" = Uuid, Path)), request_body = NewGroupCatalogueItem,
    responses((status = 201, description = "The item as the group now holds it", body = GroupCatalogueItem),
        (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: the caller administers no branch of this group", body = ApiError),
        (status = 422, description = "`invalid_field`: the item breaks a rule, a branch named is not one the caller administers, or the id is another item in a branch", body = ApiError)))]
/// Adds an item to several branches at once, or copies one (given its id) to more branches.
/// A branch that already holds the item keeps its own name and price.
pub async fn group_create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewGroupCatalogueItem>,
) -> Result<(StatusCode, Json<GroupCatalogueItem>), AppError> {
    let new = new.validate(today())?.into_inner();
    let id = new.item.id.unwrap_or_else(Uuid::now_v7);
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            let branches = administered_branches(tx, group).await?;
            let targets: Vec<Uuid> = match &new.clinics {
                None => branches.iter().map(|b| b.clinic_id).collect(),
                Some(named) => {
                    if let Some(stranger) = named
                        .iter()
                        .find(|c| !branches.iter().any(|b| b.clinic_id == **c))
                    {
                        return Err(AppError::field(
                            "clinics",
                            format!("{stranger} is not a branch of this group you administer."),
                        ));
                    }
                    named.clone()
                }
            };
            for clinic in targets {
                tx.authorize(clinic, Resource::CatalogueItem, Action::Create)
                    .await?;
                let held = tx
                    .query_opt(
                        &format!("SELECT {COLUMNS} FROM vaidya.catalogue_items WHERE clinic_id = $1 AND id = $2"),
                        &[&clinic, &id],
                    )
                    .await?;
                match held {
                    Some(row) => {
                        let held = from_row(&row)?;
                        if !same_tax_identity(&held, &new.item) {
                            return Err(AppError::field(
                                "item",
                                "A branch holds another item under this id; add it as a new item.",
                            ));
                        }
                    }
                    None => {
                        let copy = NewCatalogueItem {
                            id: Some(id),
                            ..new.item.clone()
                        };
                        insert(tx, clinic, copy.validate(today())?).await?;
                        tx.audit(clinic, AuditAction::Create, ENTITY, &[id], &[])
                            .await?;
                    }
                }
            }
            let item = group_item(tx, &branches, id).await?;
            Ok((StatusCode::CREATED, Json(item)))
        })
        .await
}

#[utoipa::path(patch, path = "/v1/groups/{group_id}/catalogue/{id}", tag = "invoices", security(("bearer" = [])),
    params(("group_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = CatalogueItemPatch,
    responses((status = 200, description = "The item as the group now holds it", body = GroupCatalogueItem),
        (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: no branch the caller administers holds the item", body = ApiError),
        (status = 422, description = "`invalid_field`: a name or price breaks a rule, or a `base_version` was sent (each branch's copy has its own)", body = ApiError)))]
/// Renames, reprices, retires or offers again an item in every branch of the group the
/// caller administers that holds it (retiring an item at an old rate everywhere at once).
pub async fn group_update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((group, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<CatalogueItemPatch>,
) -> Result<Json<GroupCatalogueItem>, AppError> {
    if patch.base_version.is_some() {
        return Err(AppError::field(
            "base_version",
            "A change for the whole group takes no version: each branch's copy has its own.",
        ));
    }
    let patch = patch.validate(today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            let branches = administered_branches(tx, group).await?;
            let held = group_item(tx, &branches, id).await?;
            for copy in &held.copies {
                tx.authorize(copy.clinic_id, Resource::CatalogueItem, Action::Update)
                    .await?;
                apply_patch(tx, copy.clinic_id, id, patch.clone().validate(today())?).await?;
                tx.audit(copy.clinic_id, AuditAction::Update, ENTITY, &[id], &[])
                    .await?;
            }
            let item = group_item(tx, &branches, id).await?;
            Ok(Json(item))
        })
        .await
}

fn same_tax_identity(held: &CatalogueItem, new: &NewCatalogueItem) -> bool {
    held.sac_hsn == new.sac_hsn
        && Some(held.treatment) == new.treatment
        && held.gst_rate_bp == new.gst_rate_bp
        && Some(&held.unit) == new.unit.as_ref()
}

/// One item as the branches hold it; 404 when none of them does.
async fn group_item(
    tx: &RequestTx,
    branches: &[GroupBranch],
    id: Uuid,
) -> Result<GroupCatalogueItem, AppError> {
    group_items(tx, branches, Some(id))
        .await?
        .pop()
        .ok_or_else(AppError::not_found)
}

/// The items the branches hold (one of them: `only`), each once with its copies in the
/// branches' order; items by the first copy's name. Read under RLS like a branch's list.
async fn group_items(
    tx: &RequestTx,
    branches: &[GroupBranch],
    only: Option<Uuid>,
) -> Result<Vec<GroupCatalogueItem>, AppError> {
    let ids: Vec<Uuid> = branches.iter().map(|b| b.clinic_id).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM vaidya.catalogue_items
                 WHERE clinic_id = ANY($1) AND deleted_at IS NULL AND ($2::uuid IS NULL OR id = $2)"
            ),
            &[&ids, &only],
        )
        .await?;
    let mut copies = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let branch_index = |c: &CatalogueItem| ids.iter().position(|id| *id == c.clinic_id);
    copies.sort_by_key(|c| (c.id, branch_index(c)));
    let mut items: Vec<GroupCatalogueItem> = Vec::new();
    for copy in copies {
        match items.last_mut() {
            Some(item)
                if item.id == copy.id
                    && item.sac_hsn == copy.sac_hsn
                    && item.treatment == copy.treatment
                    && item.gst_rate_bp == copy.gst_rate_bp
                    && item.unit == copy.unit =>
            {
                item.copies.push(copy)
            }
            _ => items.push(GroupCatalogueItem {
                id: copy.id,
                sac_hsn: copy.sac_hsn.clone(),
                treatment: copy.treatment,
                gst_rate_bp: copy.gst_rate_bp,
                unit: copy.unit.clone(),
                copies: vec![copy],
            }),
        }
    }
    items.sort_by_cached_key(|i| (i.copies[0].name.to_lowercase(), i.id));
    Ok(items)
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
