//! Patients: register, find, read, edit, and tombstone. Every read is audited with the
//! patient ids it returned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, MergePatients, NewPatient, Page, Patient, PatientPatch, PatientQuery, Sex,
};
use vaidya_shared::rules::validation::optional_text;
use vaidya_shared::rules::{Action, Resource, Valid, Validate};
use vaidya_shared::{search, ApiError, ErrorCode};

use super::{today, Paging};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use vaidya_shared::entity::kinds;

pub const COLUMNS: &str = "id, clinic_id, patient_number, name, sex, date_of_birth, phone, address, abha_number, version, created_at, updated_at";
const ENTITY: &str = "patient";
/// A patient's place in the list and search, then the id: the name lowered and compared
/// as bytes under the C collation, as the device's SQLite does, whatever the database's
/// locale (0037); read in order from `patients_by_name`.
pub const NAME_KEY: &str = "lower(name COLLATE \"C\")";

pub fn from_row(r: &Row) -> Result<Patient, AppError> {
    Ok(Patient {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_number: r.get("patient_number"),
        name: r.get("name"),
        sex: super::db_enum(r, "sex", Sex::parse)?,
        date_of_birth: r.get("date_of_birth"),
        phone: r.get("phone"),
        address: r.get("address"),
        abha_number: r.get("abha_number"),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

/// Load a live patient of the clinic, or the same 404 whether it is missing or not ours.
pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Patient, AppError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM vaidya.patients WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
        &[&clinic, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()?
    .ok_or_else(AppError::not_found)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/patients", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), PatientQuery),
    responses((status = 200, body = Page<Patient>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PatientQuery>,
) -> Result<Json<Page<Patient>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    let term = optional_text("q", q.q.as_deref(), 100)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Read)
                .await?;
            // Where the page starts: after a patient of this clinic (deleted ones too, so a
            // list paged across a deletion goes on), in the list's order.
            let after: Option<(String, Uuid)> = match q.after {
                None => None,
                Some(id) => Some(
                    tx.query_opt(
                        &format!("SELECT {NAME_KEY} FROM vaidya.patients WHERE clinic_id = $1 AND id = $2"),
                        &[&clinic, &id],
                    )
                    .await?
                    .map(|r| (r.get(0), id))
                    .ok_or_else(|| {
                        AppError::client(
                            ErrorCode::InvalidParameter,
                            "after: no such patient in this clinic.",
                        )
                    })?,
                ),
            };
            // The list reads its index (clinic_id, lower(name), id) in order and stops after
            // the page (0020). The name is lowered and compared under the C collation (0037),
            // as the device's SQLite does, whatever the database's locale. A search is planned with its term each time: a term most of
            // the clinic matches reads the same index in order and stops at the page, a rare
            // one reads the GIN index over the stored search words and sorts its few matches.
            let tsquery = term.as_deref().map(search::tsquery);
            let fetch = paging.fetch();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&clinic, &fetch, &paging.offset];
            let mut conditions = String::new();
            if let Some(Some(q)) = &tsquery {
                params.push(q);
                conditions.push_str(&format!(
                    " AND search_doc @@ pg_catalog.to_tsquery('pg_catalog.simple', ${})",
                    params.len()
                ));
            }
            if let Some((name, id)) = &after {
                params.push(name);
                params.push(id);
                conditions.push_str(&format!(
                    " AND ({NAME_KEY}, id) > (${}, ${})",
                    params.len() - 1,
                    params.len()
                ));
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM vaidya.patients
                 WHERE clinic_id = $1 AND deleted_at IS NULL{conditions}
                 ORDER BY {NAME_KEY}, id LIMIT $2 OFFSET $3"
            );
            let rows = match tsquery {
                None => tx.query(&sql, &params).await?,
                // Typed, but nothing searchable (only punctuation): nothing matches.
                Some(None) => Vec::new(),
                Some(Some(_)) => tx.query_planned(&sql, &params).await?,
            };
            let mut page = paging.page(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?);
            if page.next_offset.is_some() {
                page.next_after = page.items.last().map(|p| p.id);
            }
            let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &ids)
                .await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Patient), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Patient>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Read)
                .await?;
            let patient = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[id], &[id])
                .await?;
            Ok(Json(patient))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/patients", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewPatient>,
) -> Result<(StatusCode, Json<Patient>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Create)
                .await?;
            let patient = insert(tx, clinic, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                ENTITY,
                &[patient.id],
                &[patient.id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(patient)))
        })
        .await
}

/// New patients who are probably patients the clinic registered before (the shared
/// `rules::duplicates`): each raises one `duplicate_patient` conflict naming the earlier
/// records, for a person to merge or to mark as two people. Both records stay; a visit
/// written against either is never refused for it. Candidates share a mobile number or an
/// ABHA number (both indexed); the rule decides on the names and dates of birth.
pub async fn flag_duplicates(tx: &RequestTx, clinic: Uuid, new: &[Uuid]) -> Result<(), AppError> {
    use vaidya_shared::rules::duplicates::{likely_duplicate, PatientIdentity};
    if new.is_empty() {
        return Ok(());
    }
    let rows = tx
        .query(
            "SELECT o.id, o.patient_number, o.name, o.date_of_birth, o.phone, o.abha_number,
                    n.id AS new_id, n.patient_number AS new_patient_number, n.name AS new_name,
                    n.date_of_birth AS new_date_of_birth, n.phone AS new_phone,
                    n.abha_number AS new_abha_number
             FROM vaidya.patients n
             JOIN vaidya.patients o ON o.clinic_id = n.clinic_id AND o.id <> n.id
                  AND o.deleted_at IS NULL AND o.patient_number < n.patient_number
                  AND (o.phone = n.phone OR o.abha_number = n.abha_number)
             WHERE n.clinic_id = $1 AND n.id = ANY($2)
             ORDER BY n.patient_number, o.patient_number",
            &[&clinic, &new],
        )
        .await?;
    /// One side of the pair as the row has it (`prefix` "new_" for the new patient):
    /// what the rule reads, and the summary the conflict shows.
    struct Side {
        id: Uuid,
        number: i64,
        name: String,
        dob: Option<chrono::NaiveDate>,
        phone: Option<String>,
        abha: Option<String>,
    }
    impl Side {
        fn read(r: &Row, prefix: &str) -> Side {
            let col = |c: &str| format!("{prefix}{c}");
            Side {
                id: r.get(col("id").as_str()),
                number: r.get(col("patient_number").as_str()),
                name: r.get(col("name").as_str()),
                dob: r.get(col("date_of_birth").as_str()),
                phone: r.get(col("phone").as_str()),
                abha: r.get(col("abha_number").as_str()),
            }
        }
        fn identity(&self) -> PatientIdentity<'_> {
            PatientIdentity {
                name: &self.name,
                date_of_birth: self.dob,
                phone: self.phone.as_deref(),
                abha_number: self.abha.as_deref(),
            }
        }
        fn summary(&self) -> serde_json::Value {
            serde_json::json!({
                "id": self.id, "patient_number": self.number, "name": self.name,
                "date_of_birth": self.dob, "phone": self.phone,
            })
        }
    }
    let mut found: Vec<(Uuid, serde_json::Value, Vec<serde_json::Value>)> = Vec::new();
    for r in &rows {
        let (new, earlier) = (Side::read(r, "new_"), Side::read(r, ""));
        let Some(reason) = likely_duplicate(&new.identity(), &earlier.identity()) else {
            continue;
        };
        let mut named = earlier.summary();
        named["reason"] = serde_json::json!(reason);
        match found.last_mut() {
            Some((id, _, earlier_ones)) if *id == new.id => earlier_ones.push(named),
            _ => found.push((new.id, new.summary(), vec![named])),
        }
    }
    for (id, registered, earlier) in found {
        crate::sync::conflicts::record(
            tx,
            clinic,
            crate::sync::conflicts::NewConflict {
                kind: vaidya_shared::sync::ConflictKind::DuplicatePatient,
                entity: vaidya_shared::sync::EntityKind::Patient,
                entity_id: id,
                field: None,
                server_value: serde_json::Value::Array(earlier),
                client_value: registered,
            },
        )
        .await?;
    }
    Ok(())
}

/// Validate and insert a patient with the clinic's next patient number; a likely duplicate
/// of an earlier patient goes to the conflict inbox ([`flag_duplicates`]).
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewPatient>,
) -> Result<Patient, AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let (counter, sign) = numbering(tx, clinic).await?;
    let number = sign * super::next_counter(tx, clinic, counter).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth, phone, address, abha_number)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
            ),
            &[&id, &clinic, &number, &new.name, &new.sex.as_str(), &new.date_of_birth, &new.phone, &new.address, &new.abha_number],
        )
        .await?;
    let patient = from_row(&row)?;
    flag_duplicates(tx, clinic, &[patient.id]).await?;
    Ok(patient)
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = PatientPatch,
    responses((status = 200, body = Patient), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<PatientPatch>,
) -> Result<Json<Patient>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Update)
                .await?;
            let patient = apply_patch(tx, clinic, id, patch.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[id])
                .await?;
            Ok(Json(patient))
        })
        .await
}

/// Validate and apply a patch. With `base_version`, a row changed since is a conflict.
pub async fn apply_patch(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    patch: Valid<PatientPatch>,
) -> Result<Patient, AppError> {
    // Optional fields: absent = keep, "" = clear, a value = set (already normalised).
    let set = |v: &Option<String>| (v.is_some(), v.clone().filter(|v| !v.is_empty()));
    let (phone_given, phone) = set(&patch.phone);
    let (abha_given, abha) = set(&patch.abha_number);
    let (address_given, address) = set(&patch.address);
    let row = tx
        .query_opt(
            &format!(
                "UPDATE vaidya.patients SET
                    name = coalesce($3, name),
                    sex = coalesce($4, sex),
                    date_of_birth = coalesce($5, date_of_birth),
                    phone = CASE WHEN $6 THEN $7 ELSE phone END,
                    abha_number = CASE WHEN $8 THEN $9 ELSE abha_number END,
                    address = CASE WHEN $10 THEN $11 ELSE address END
                 WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL
                   AND ($12::bigint IS NULL OR version = $12)
                 RETURNING {COLUMNS}"
            ),
            &[
                &clinic,
                &id,
                &patch.name,
                &patch.sex.map(Sex::as_str),
                &patch.date_of_birth,
                &phone_given,
                &phone,
                &abha_given,
                &abha,
                &address_given,
                &address,
                &patch.base_version,
            ],
        )
        .await?;
    match row {
        Some(row) => from_row(&row),
        None => {
            load(tx, clinic, id).await?; // 404 when missing
            Err(AppError::client(
                ErrorCode::VersionConflict,
                "The patient was changed by someone else; reload and try again.",
            ))
        }
    }
}

#[utoipa::path(delete, path = "/v1/clinics/{clinic_id}/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Delete)
                .await?;
            tombstone(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Delete, ENTITY, &[id], &[id])
                .await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/patients/{id}/merge", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path, description = "The patient who stays")),
    request_body = MergePatients,
    responses((status = 200, description = "The patient who stays", body = Patient),
        (status = 403, description = "`forbidden`: only clinic admins merge patients", body = ApiError),
        (status = 404, description = "`not_found`: either patient is not a live record of this clinic", body = ApiError),
        (status = 422, description = "`invalid_field`: a patient merged into itself", body = ApiError)))]
/// Merges two records of one person: everything of the duplicate moves to the patient
/// who stays (`vaidya.merge_patients`, migration 0029), the duplicate becomes a tombstone
/// naming them, and the open duplicate conflicts about either are settled. Audited as a
/// `patient_merge` of both records.
pub async fn merge(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, survivor)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<MergePatients>,
) -> Result<Json<Patient>, AppError> {
    let duplicate = body.duplicate_id;
    if duplicate == survivor {
        return Err(AppError::field(
            "duplicate_id",
            "A patient is not merged into themselves.",
        ));
    }
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Patient, Action::Delete)
                .await?;
            load(tx, clinic, survivor).await?;
            load(tx, clinic, duplicate).await?;
            tx.execute(
                "SELECT vaidya.merge_patients($1, $2, $3)",
                &[&clinic, &survivor, &duplicate],
            )
            .await?;
            tx.audit(
                clinic,
                AuditAction::Update,
                "patient_merge",
                &[survivor, duplicate],
                &[survivor, duplicate],
            )
            .await?;
            Ok(Json(load(tx, clinic, survivor).await?))
        })
        .await
}

/// Mark a patient deleted (clinical records are never removed, only tombstoned).
pub async fn tombstone(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<(), AppError> {
    let n = tx
        .execute(
            "UPDATE vaidya.patients SET deleted_at = now() WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&clinic, &id],
        )
        .await?;
    if n == 0 {
        return Err(AppError::not_found());
    }
    Ok(())
}

impl Store for kinds::Patient {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Patient, AppError> {
        from_row(r)
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewPatient>,
    ) -> Result<Patient, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<PatientPatch>,
    ) -> Result<Patient, AppError> {
        apply_patch(tx, clinic, id, patch).await
    }
}

/// Inserts validated patients with consecutive patient numbers (in the given order) in one
/// statement: a counter update that takes `n` numbers and a multi-row `INSERT … SELECT FROM
/// unnest(…)`, under the same RLS policies as a single insert (a push's set-based ingest).
/// Returns each new row's version by id; every row's `id` must be set.
pub async fn insert_many(
    tx: &RequestTx,
    clinic: Uuid,
    rows: &[(usize, Valid<NewPatient>)],
) -> Result<std::collections::HashMap<Uuid, i64>, AppError> {
    let n = rows.len() as i64;
    let (counter, sign) = numbering(tx, clinic).await?;
    let ids: Vec<Uuid> = rows.iter().map(|(_, r)| r.id.unwrap_or_default()).collect();
    let names: Vec<&str> = rows.iter().map(|(_, r)| r.name.as_str()).collect();
    let sexes: Vec<&str> = rows.iter().map(|(_, r)| r.sex.as_str()).collect();
    let births: Vec<Option<chrono::NaiveDate>> =
        rows.iter().map(|(_, r)| r.date_of_birth).collect();
    let phones: Vec<Option<&str>> = rows.iter().map(|(_, r)| r.phone.as_deref()).collect();
    let addresses: Vec<Option<&str>> = rows.iter().map(|(_, r)| r.address.as_deref()).collect();
    let abhas: Vec<Option<&str>> = rows.iter().map(|(_, r)| r.abha_number.as_deref()).collect();
    let returned = tx
        .query(
            "WITH counter AS (
                 INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ($1, $10, $2)
                 ON CONFLICT (clinic_id, counter) DO UPDATE SET value = vaidya.clinic_counters.value + $2
                 RETURNING value - $2 AS base)
             INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth, phone, address, abha_number)
             SELECT t.id, $1, $11 * (counter.base + t.ord), t.name, t.sex, t.dob, t.phone, t.address, t.abha
             FROM counter, unnest($3::uuid[], $4::text[], $5::text[], $6::date[], $7::text[], $8::text[], $9::text[])
                  WITH ORDINALITY AS t(id, name, sex, dob, phone, address, abha, ord)
             RETURNING id, version",
            &[&clinic, &n, &ids, &names, &sexes, &births, &phones, &addresses, &abhas, &counter, &sign],
        )
        .await?;
    if returned.len() != rows.len() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "{} of {} patients inserted",
            returned.len(),
            rows.len()
        )));
    }
    Ok(returned.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The counter a new patient's number comes from, and its sign. The clinic's numbers are
/// the group server's alone: on a clinic hub (issue 11) a patient registered during an
/// outage gets a provisional number below zero from a counter of the hub's (shown as
/// "number pending"; it can never collide with a real one), and the group server's number
/// replaces it when its copy of the patient comes back through the hub's feed.
async fn numbering(tx: &RequestTx, clinic: Uuid) -> Result<(&'static str, i64), AppError> {
    Ok(if tx.is_hub_of(clinic).await? {
        ("provisional_patient_number", -1)
    } else {
        ("patient_number", 1)
    })
}

/// Which of `ids` are patients of this clinic.
pub async fn existing(
    tx: &RequestTx,
    clinic: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, AppError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(tx
        .query(
            "SELECT id FROM vaidya.patients WHERE clinic_id = $1 AND id = ANY($2)",
            &[&clinic, &ids],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}
