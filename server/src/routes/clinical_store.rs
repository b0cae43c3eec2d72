//! The key of a clinic file's clinical store on a PC (migration 0027): released only to the
//! roles that may read every record kept in it (`rules::permissions::opens_clinical_store`),
//! so that on a shared PC the clinical notes and prescriptions on disk open only for them.

use axum::extract::State;
use axum::Json;
use rand::RngCore;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, ClinicalStoreKey, NewClinicalStoreKey, Role};
use vaidya_shared::rules::permissions::opens_clinical_store;
use vaidya_shared::ApiError;

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};

/// What the audit trail calls a release of the key.
const ENTITY: &str = "clinical_store_key";

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/clinical-store-key", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    request_body = NewClinicalStoreKey,
    responses((status = 200, body = ClinicalStoreKey, description = "The key of this clinic file's clinical store: the same for every clinician who asks"),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, description = "`forbidden`: the caller's role does not read clinical records", body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError)))]
/// The clinical store key of one clinic file on a PC (named by the file's random device
/// id), made on first request. Every release is audited.
pub async fn key(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewClinicalStoreKey>,
) -> Result<Json<ClinicalStoreKey>, AppError> {
    let partition = body.partition_id;
    super::check_partition_id(&partition)?;
    let clinicians: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| opens_clinical_store(*r))
        .collect();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &clinicians, ENTITY).await?;
            let mut fresh = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut fresh);
            // The first request makes the key; later ones (any clinician, any retry) get
            // the one kept. Two first requests at once both end with the winner's key.
            let made = tx
                .execute(
                    "INSERT INTO vaidya.clinical_store_keys (clinic_id, partition_id, store_key, created_by)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&clinic, &partition, &fresh.as_slice(), &tx.user_id()],
                )
                .await?;
            let row = tx
                .query_one(
                    "SELECT store_key FROM vaidya.clinical_store_keys
                     WHERE clinic_id = $1 AND partition_id = $2",
                    &[&clinic, &partition],
                )
                .await?;
            let key: Vec<u8> = row.get(0);
            let action = if made == 1 {
                AuditAction::Create
            } else {
                AuditAction::Read
            };
            tx.audit(clinic, action, ENTITY, &[], &[]).await?;
            Ok(Json(ClinicalStoreKey {
                key: hex::encode(key),
            }))
        })
        .await
}
