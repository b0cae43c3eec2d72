//! Reports computed on the server under the same forced RLS as everything else: a branch's
//! figures reach only its members whose role may read payments.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, CollectionsQuery, CollectionsReport, DoctorTotal, GroupCollectionsReport,
    InvoiceRecipient, PaymentMethod,
};
use vaidya_shared::gst::{self, LineTax, TaxTreatment};
use vaidya_shared::gstr1::{
    CancelledNumber, Gstr1Query, Gstr1Report, SuppliedCreditNote, SuppliedInvoice, SuppliedLine,
};
use vaidya_shared::rules::clock::india_day_start;
use vaidya_shared::rules::{Action, Resource, Validate};
use vaidya_shared::ApiError;

use super::{db_enum, today};
use crate::app::App;
use crate::http::{ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};

/// The instants a period of India days spans: from the first day's midnight to the end of
/// the last (a payment counts on the day in India it was received).
fn india_period(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        india_day_start(from),
        india_day_start(to) + TimeDelta::days(1),
    )
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/reports/collections", tag = "reports", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), CollectionsQuery),
    responses((status = 200, body = CollectionsReport),
        (status = 400, description = "`invalid_parameter`: a day is not a date (YYYY-MM-DD)", body = ApiError),
        (status = 401, body = ApiError),
        (status = 403, description = "`forbidden`: the member's role may not read payments", body = ApiError),
        (status = 404, description = "`not_found`: not a member of this clinic", body = ApiError),
        (status = 422, description = "`invalid_field`: the last day is before the first, or the period is longer than a year", body = ApiError)))]
/// What the clinic collected per day (India time) and payment mode, both ends of the period
/// included. Audited as an export of the clinic's payments.
pub async fn collections(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<CollectionsQuery>,
) -> Result<Json<CollectionsReport>, AppError> {
    let q = q.validate(today())?.into_inner();
    let (start, end) = india_period(q.from, q.to);
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Payment, Action::Read)
                .await?;
            let rows = tx
                .query(
                    "SELECT (received_at AT TIME ZONE 'Asia/Kolkata')::date AS day, method,
                            count(*) AS payments, sum(amount_paise)::bigint AS amount
                     FROM vaidya.payments
                     WHERE clinic_id = $1 AND deleted_at IS NULL
                       AND received_at >= $2 AND received_at < $3
                     GROUP BY 1, 2 ORDER BY 1, 2",
                    &[&clinic, &start, &end],
                )
                .await?;
            let sums = rows
                .iter()
                .map(|r| {
                    Ok((
                        r.get::<_, NaiveDate>("day"),
                        db_enum(r, "method", PaymentMethod::parse)?,
                        r.get::<_, i64>("payments"),
                        r.get::<_, i64>("amount"),
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            // Per doctor billed: each payment with its invoice's doctor.
            let by_doctor = tx
                .query(
                    "SELECT i.doctor_id, count(*) AS payments, sum(p.amount_paise)::bigint AS amount
                     FROM vaidya.payments p
                     JOIN vaidya.invoices i ON i.clinic_id = p.clinic_id AND i.id = p.invoice_id
                     WHERE p.clinic_id = $1 AND p.deleted_at IS NULL
                       AND p.received_at >= $2 AND p.received_at < $3
                     GROUP BY 1 ORDER BY 3 DESC, 1",
                    &[&clinic, &start, &end],
                )
                .await?
                .iter()
                .map(|r| DoctorTotal {
                    doctor_id: r.get("doctor_id"),
                    payments: r.get("payments"),
                    amount_paise: r.get("amount"),
                })
                .collect();
            tx.audit(clinic, AuditAction::Export, "collections_report", &[], &[])
                .await?;
            Ok(Json(CollectionsReport {
                by_doctor,
                ..CollectionsReport::from_sums(clinic, &q, sums)
            }))
        })
        .await
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/reports/collections", tag = "reports", security(("bearer" = [])),
    params(("group_id" = Uuid, Path), CollectionsQuery),
    responses((status = 200, body = GroupCollectionsReport),
        (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: the caller administers no branch of this group", body = ApiError),
        (status = 422, description = "`invalid_field`: the last day is before the first, or the period is longer than a year", body = ApiError)))]
/// A group's collections for a period, branch by branch and per payment mode: the branches
/// of the group the caller is an admin of (decided here: a group admin is an admin of each
/// branch; there is no group-wide role that would read a branch it does not administer).
/// Computed under forced RLS; audited as an export in each branch's trail.
pub async fn group_collections(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(group): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<CollectionsQuery>,
) -> Result<Json<GroupCollectionsReport>, AppError> {
    let q = q.validate(today())?.into_inner();
    let (start, end) = india_period(q.from, q.to);
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            let branches: Vec<(Uuid, String)> = super::administered_branches(tx, group)
                .await?
                .into_iter()
                .map(|b| (b.clinic_id, b.name))
                .collect();
            let ids: Vec<Uuid> = branches.iter().map(|(id, _)| *id).collect();
            let sums = tx
                .query(
                    "SELECT clinic_id, method, count(*) AS payments, sum(amount_paise)::bigint AS amount
                     FROM vaidya.payments
                     WHERE clinic_id = ANY($1) AND deleted_at IS NULL
                       AND received_at >= $2 AND received_at < $3
                     GROUP BY 1, 2 ORDER BY 1, 2",
                    &[&ids, &start, &end],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.get::<_, Uuid>("clinic_id"),
                        db_enum(r, "method", PaymentMethod::parse)?,
                        r.get::<_, i64>("payments"),
                        r.get::<_, i64>("amount"),
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            for clinic in &ids {
                tx.audit(*clinic, AuditAction::Export, "group_collections_report", &[], &[])
                    .await?;
            }
            Ok(Json(GroupCollectionsReport::from_sums(group, &q, branches, sums)))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/reports/gstr1", tag = "reports", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), Gstr1Query),
    responses((status = 200, body = Gstr1Report),
        (status = 400, description = "`invalid_parameter`: the year or month is not a number", body = ApiError),
        (status = 401, body = ApiError),
        (status = 403, description = "`forbidden`: the member's role may not read invoices", body = ApiError),
        (status = 404, description = "`not_found`: not a member of this clinic", body = ApiError),
        (status = 422, description = "`invalid_field`: not a return period (a month, or a quarter from April, July, October or January), or the clinic has no GSTIN", body = ApiError)))]
/// The clinic's GSTR-1 for a month or a quarter: B2B invoices, B2C supplies per place of
/// supply and rate, exempt supplies, the HSN/SAC summary and the documents issued per
/// series (with the device numbers cancelled in the period). Only invoices issued under the
/// clinic's current GSTIN count. Audited as an export of the clinic's invoices.
pub async fn gstr1(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<Gstr1Query>,
) -> Result<Json<Gstr1Report>, AppError> {
    let q = q.validate(today())?.into_inner();
    let (from, to) = q
        .days()
        .ok_or_else(|| AppError::field("month", "Not a return period.".to_owned()))?;
    let (start, end) = india_period(from, to);
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Read)
                .await?;
            let Some(gstin) = super::clinics::load(tx, clinic).await?.gstin else {
                return Err(AppError::field(
                    "gstin",
                    "This clinic has no GSTIN, so it files no GSTR-1.".to_owned(),
                ));
            };
            // The period's invoices under this GSTIN (those from before the supplier was
            // kept on each invoice count as the clinic's own).
            let period = "i.clinic_id = $1 AND i.deleted_at IS NULL
                 AND i.issued_at >= $2 AND i.issued_at < $3
                 AND coalesce(i.supplier_gstin, $4) = $4";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&clinic, &start, &end, &gstin];
            let rows = tx
                .query(
                    &format!(
                        "SELECT i.id, i.series, i.number, i.place_of_supply, i.total_paise,
                                (i.issued_at AT TIME ZONE 'Asia/Kolkata')::date AS day,
                                i.recipient_gstin, i.recipient_name,
                                i.cancelled_at IS NOT NULL AS cancelled
                         FROM vaidya.invoices i WHERE {period}"
                    ),
                    &params,
                )
                .await?;
            let mut invoices: Vec<(Uuid, SuppliedInvoice)> = rows
                .iter()
                .map(|r| {
                    let (series, number): (String, i64) = (r.get("series"), r.get("number"));
                    let recipient = r
                        .get::<_, Option<String>>("recipient_gstin")
                        .map(|gstin| InvoiceRecipient {
                            gstin,
                            name: r.get::<_, Option<String>>("recipient_name").unwrap_or_default(),
                        });
                    (
                        r.get("id"),
                        SuppliedInvoice {
                            invoice_number: gst::invoice_number(&series, number),
                            series,
                            number,
                            issued_on: r.get("day"),
                            place_of_supply: r.get("place_of_supply"),
                            recipient,
                            total_paise: r.get("total_paise"),
                            lines: Vec::new(),
                            cancelled: r.get("cancelled"),
                        },
                    )
                })
                .collect();
            invoices.sort_by_key(|(id, _)| *id);
            let lines = tx
                .query(
                    &format!(
                        "SELECT l.invoice_id, l.sac_hsn, l.description, l.quantity, l.gst_rate_bp,
                                l.taxable_paise, l.cgst_paise, l.sgst_paise, l.igst_paise, l.total_paise,
                                l.treatment, l.unit
                         FROM vaidya.invoice_lines l
                         JOIN vaidya.invoices i ON i.clinic_id = l.clinic_id AND i.id = l.invoice_id
                         WHERE {period} AND l.deleted_at IS NULL
                         ORDER BY l.invoice_id, l.position"
                    ),
                    &params,
                )
                .await?;
            for l in &lines {
                let id: Uuid = l.get("invoice_id");
                let Ok(at) = invoices.binary_search_by_key(&id, |(id, _)| *id) else {
                    continue;
                };
                invoices[at].1.lines.push(SuppliedLine {
                    sac_hsn: l.get("sac_hsn"),
                    description: l.get("description"),
                    quantity: l.get("quantity"),
                    rate_bp: l.get::<_, i32>("gst_rate_bp").max(0) as u32,
                    tax: LineTax {
                        taxable_paise: l.get("taxable_paise"),
                        cgst_paise: l.get("cgst_paise"),
                        sgst_paise: l.get("sgst_paise"),
                        igst_paise: l.get("igst_paise"),
                        total_paise: l.get("total_paise"),
                    },
                    treatment: line_treatment(l),
                    unit: line_unit(l),
                });
            }
            let cancelled = tx
                .query(
                    "SELECT series, number FROM vaidya.cancelled_invoice_numbers
                     WHERE clinic_id = $1 AND cancelled_at >= $2 AND cancelled_at < $3",
                    &[&clinic, &start, &end],
                )
                .await?
                .iter()
                .map(|r| CancelledNumber {
                    series: r.get("series"),
                    number: r.get("number"),
                })
                .collect::<Vec<_>>();
            let invoices: Vec<SuppliedInvoice> = invoices.into_iter().map(|(_, i)| i).collect();
            let credit_notes = credit_notes_of_period(tx, clinic, start, end, &gstin).await?;
            tx.audit(clinic, AuditAction::Export, "gstr1_report", &[], &[])
                .await?;
            Ok(Json(Gstr1Report::build(
                clinic,
                &gstin,
                &q,
                &invoices,
                &credit_notes,
                &cancelled,
            )))
        })
        .await
}

/// The credit notes dated in `[start, end)` (India time) against invoices issued under
/// `gstin`, with the lines they credit (two queries).
async fn credit_notes_of_period(
    tx: &RequestTx,
    clinic: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    gstin: &str,
) -> Result<Vec<SuppliedCreditNote>, AppError> {
    let of_period = "c.clinic_id = $1 AND c.issued_at >= $2 AND c.issued_at < $3
         AND coalesce(i.supplier_gstin, $4) = $4";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&clinic, &start, &end, &gstin];
    let rows = tx
        .query(
            &format!(
                "SELECT c.id, c.series, c.number, c.total_paise,
                        (c.issued_at AT TIME ZONE 'Asia/Kolkata')::date AS day,
                        i.series AS invoice_series, i.number AS invoice_number,
                        (i.issued_at AT TIME ZONE 'Asia/Kolkata')::date AS invoice_day,
                        i.place_of_supply, i.recipient_gstin, i.recipient_name
                 FROM vaidya.credit_notes c
                 JOIN vaidya.invoices i ON i.clinic_id = c.clinic_id AND i.id = c.invoice_id
                 WHERE {of_period}
                 ORDER BY c.id"
            ),
            &params,
        )
        .await?;
    let mut notes: Vec<(Uuid, SuppliedCreditNote)> = rows
        .iter()
        .map(|r| {
            let (series, number): (String, i64) = (r.get("series"), r.get("number"));
            let invoice_series: String = r.get("invoice_series");
            (
                r.get("id"),
                SuppliedCreditNote {
                    note_number: gst::invoice_number(&series, number),
                    series,
                    number,
                    issued_on: r.get("day"),
                    invoice_number: gst::invoice_number(&invoice_series, r.get("invoice_number")),
                    invoice_issued_on: r.get("invoice_day"),
                    place_of_supply: r.get("place_of_supply"),
                    recipient: r.get::<_, Option<String>>("recipient_gstin").map(|gstin| {
                        InvoiceRecipient {
                            gstin,
                            name: r
                                .get::<_, Option<String>>("recipient_name")
                                .unwrap_or_default(),
                        }
                    }),
                    total_paise: r.get("total_paise"),
                    lines: Vec::new(),
                },
            )
        })
        .collect();
    let lines = tx
        .query(
            &format!(
                "SELECT cl.credit_note_id, l.sac_hsn, l.description, cl.gst_rate_bp, l.treatment, l.unit,
                        cl.taxable_paise, cl.cgst_paise, cl.sgst_paise, cl.igst_paise, cl.total_paise
                 FROM vaidya.credit_note_lines cl
                 JOIN vaidya.credit_notes c ON c.clinic_id = cl.clinic_id AND c.id = cl.credit_note_id
                 JOIN vaidya.invoices i ON i.clinic_id = c.clinic_id AND i.id = c.invoice_id
                 JOIN vaidya.invoice_lines l ON l.clinic_id = cl.clinic_id AND l.id = cl.invoice_line_id
                 WHERE {of_period}
                 ORDER BY cl.credit_note_id, cl.position"
            ),
            &params,
        )
        .await?;
    for l in &lines {
        let id: Uuid = l.get("credit_note_id");
        let Ok(at) = notes.binary_search_by_key(&id, |(id, _)| *id) else {
            continue;
        };
        notes[at].1.lines.push(SuppliedLine {
            sac_hsn: l.get("sac_hsn"),
            description: l.get("description"),
            quantity: 0,
            rate_bp: l.get::<_, i32>("gst_rate_bp").max(0) as u32,
            tax: LineTax {
                taxable_paise: l.get("taxable_paise"),
                cgst_paise: l.get("cgst_paise"),
                sgst_paise: l.get("sgst_paise"),
                igst_paise: l.get("igst_paise"),
                total_paise: l.get("total_paise"),
            },
            treatment: line_treatment(l),
            unit: line_unit(l),
        });
    }
    Ok(notes.into_iter().map(|(_, n)| n).collect())
}

/// A line's treatment as stored; lines from before treatments were kept by their rate.
fn line_treatment(l: &tokio_postgres::Row) -> TaxTreatment {
    l.get::<_, Option<&str>>("treatment")
        .and_then(TaxTreatment::parse)
        .unwrap_or_else(|| TaxTreatment::default_for(l.get::<_, i32>("gst_rate_bp").max(0) as u32))
}

/// A line's unit as stored; lines from before units were kept by their code.
fn line_unit(l: &tokio_postgres::Row) -> String {
    l.get::<_, Option<String>>("unit")
        .unwrap_or_else(|| gst::default_unit(l.get("sac_hsn")).to_owned())
}
