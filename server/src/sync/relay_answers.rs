//! A clinic hub tells a PC what the group server answered for the changes the hub took in
//! from it (issue 11): the hub alone forwards them, in the order it took its PCs' changes
//! in, so a PC never sends such a change again itself, and learns here whether it was
//! applied, refused or in conflict upstream. A refusal then reaches a person on the PC
//! (Unsent changes) instead of staying in the hub's relay queue.
//!
//! Asked by any active person of the hub's clinic (a shared PC asks for every author's
//! changes it holds), through `vaidya.hub_relay_answers`, which checks that and reads only
//! the clinic's relayed changes. The answers are the ones the group server gave the hub,
//! as a push would have given them to the PC itself (an applied change's lost fields, with
//! their values, are left out: the group server's conflict inbox has them). A group server
//! answers 404: it has no relay queue.

use axum::extract::State;
use axum::Json;
use uuid::Uuid;
use vaidya_shared::sync::{
    MutationResult, RelayAnswersRequest, RelayAnswersResponse, MAX_PUSH_BATCH,
};
use vaidya_shared::ApiError;

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/sync/relay-answers", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = RelayAnswersRequest,
    responses((status = 200, body = RelayAnswersResponse),
        (status = 404, description = "Not a clinic hub, or not a clinic of the caller's", body = ApiError),
        (status = 422, body = ApiError)))]
pub async fn relay_answers(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RelayAnswersRequest>,
) -> Result<Json<RelayAnswersResponse>, AppError> {
    if !app.is_hub().await? {
        return Err(AppError::not_found());
    }
    if req.mutation_ids.len() > MAX_PUSH_BATCH {
        return Err(AppError::field(
            "mutation_ids",
            format!("Ask about at most {MAX_PUSH_BATCH} changes at a time."),
        ));
    }
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_member(clinic, "sync").await?;
            let rows = tx
                .query(
                    "SELECT mutation_id, result FROM vaidya.hub_relay_answers($1, $2)",
                    &[&clinic, &req.mutation_ids],
                )
                .await?;
            let mut answers = Vec::new();
            let mut waiting = Vec::new();
            for row in rows {
                let id: Uuid = row.get(0);
                match row.get::<_, Option<serde_json::Value>>(1) {
                    None => waiting.push(id),
                    Some(stored) => {
                        let mut answer: MutationResult = serde_json::from_value(stored)
                            .map_err(|e| AppError::Internal(e.into()))?;
                        if let MutationResult::Applied { conflicts, .. } = &mut answer {
                            conflicts.clear();
                        }
                        answers.push(answer);
                    }
                }
            }
            Ok(Json(RelayAnswersResponse { answers, waiting }))
        })
        .await
}
