//! GST invoices: lines with SAC/HSN codes, CGST+SGST or IGST by place of supply, amounts in
//! paise, numbers consecutive within a series; and payments against them. An issued invoice
//! is immutable (GST rules: corrections are credit notes, not edits).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, CancelInvoice, CancelledInvoiceNumber, ClinicalQuery, CreditNote, CreditNoteLine,
    Invoice, InvoiceCancellation, InvoiceLine, InvoiceRecipient, InvoiceSeries, InvoiceSupplier,
    NewCreditNote, NewInvoice, NewInvoiceSeries, NewPayment, Page, Payment, PaymentMethod, Role,
};
use vaidya_shared::gst::{self, LineTax, SupplyKind};
use vaidya_shared::numbering::{self, Document, Series};
use vaidya_shared::rules::validation::{credit_note_lines, invoice_cancellable, payment_fits};
use vaidya_shared::rules::{Action, Resource, Valid, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use super::{today, Paging};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use vaidya_shared::entity::{kinds, Unchangeable};
use vaidya_shared::sync::EntityKind;

pub const COLUMNS: &str = "id, clinic_id, patient_id, series, number, issued_at, place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise, version, supplier_name, supplier_address, supplier_gstin, supplier_state, recipient_gstin, recipient_name, cancelled_at, cancelled_by, cancel_reason, doctor_id";
const ENTITY: &str = "invoice";

fn tax_of(r: &Row) -> LineTax {
    LineTax {
        taxable_paise: r.get("taxable_paise"),
        cgst_paise: r.get("cgst_paise"),
        sgst_paise: r.get("sgst_paise"),
        igst_paise: r.get("igst_paise"),
        total_paise: r.get("total_paise"),
    }
}

pub fn from_row(r: &Row) -> Invoice {
    let series: String = r.get("series");
    let number: i64 = r.get("number");
    Invoice {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_id: r.get("patient_id"),
        invoice_number: vaidya_shared::gst::invoice_number(&series, number),
        series,
        number,
        issued_at: r.get("issued_at"),
        place_of_supply: r.get("place_of_supply"),
        supply_kind: if r.get::<_, &str>("supply_kind") == "inter_state" {
            SupplyKind::InterState
        } else {
            SupplyKind::IntraState
        },
        lines: Vec::new(),
        totals: tax_of(r),
        payments: Vec::new(),
        paid_paise: 0,
        version: r.get("version"),
        supplier: r
            .get::<_, Option<String>>("supplier_name")
            .map(|name| InvoiceSupplier {
                name,
                address: r
                    .get::<_, Option<String>>("supplier_address")
                    .unwrap_or_default(),
                gstin: r.get("supplier_gstin"),
                state_code: r
                    .get::<_, Option<String>>("supplier_state")
                    .unwrap_or_default(),
            }),
        recipient: r
            .get::<_, Option<String>>("recipient_gstin")
            .map(|gstin| InvoiceRecipient {
                gstin,
                name: r
                    .get::<_, Option<String>>("recipient_name")
                    .unwrap_or_default(),
            }),
        credit_notes: Vec::new(),
        doctor_id: r.get("doctor_id"),
        cancellation: r
            .get::<_, Option<DateTime<Utc>>>("cancelled_at")
            .map(|cancelled_at| InvoiceCancellation {
                cancelled_at,
                cancelled_by: r.get::<_, Option<Uuid>>("cancelled_by").unwrap_or_default(),
                reason: r
                    .get::<_, Option<String>>("cancel_reason")
                    .unwrap_or_default(),
            }),
    }
}

/// Attach lines and payments to a page of invoices (two queries per page).
pub async fn with_details(
    tx: &RequestTx,
    clinic: Uuid,
    mut list: Vec<Invoice>,
) -> Result<Vec<Invoice>, AppError> {
    let ids: Vec<Uuid> = list.iter().map(|i| i.id).collect();
    for r in tx
        .query(
            "SELECT invoice_id, id, position, description, sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp,
                    taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise, treatment, unit
             FROM vaidya.invoice_lines WHERE clinic_id = $1 AND invoice_id = ANY($2) ORDER BY invoice_id, position",
            &[&clinic, &ids],
        )
        .await?
    {
        let parent: Uuid = r.get(0);
        if let Some(inv) = list.iter_mut().find(|i| i.id == parent) {
            inv.lines.push(InvoiceLine {
                id: r.get(1),
                position: r.get(2),
                description: r.get(3),
                sac_hsn: r.get(4),
                quantity: r.get(5),
                unit_price_paise: r.get(6),
                discount_paise: r.get(7),
                gst_rate_bp: r.get::<_, i32>(8) as u32,
                tax: tax_of(&r),
                treatment: r
                    .get::<_, Option<&str>>("treatment")
                    .and_then(gst::TaxTreatment::parse),
                unit: r.get("unit"),
            });
        }
    }
    for r in tx
        .query(
            "SELECT invoice_id, id, amount_paise, method, reference, received_at FROM vaidya.payments
             WHERE clinic_id = $1 AND invoice_id = ANY($2) AND deleted_at IS NULL ORDER BY received_at, id",
            &[&clinic, &ids],
        )
        .await?
    {
        let parent: Uuid = r.get(0);
        if let Some(inv) = list.iter_mut().find(|i| i.id == parent) {
            let p = Payment {
                id: r.get(1),
                invoice_id: parent,
                amount_paise: r.get(2),
                method: super::db_enum(&r, "method", PaymentMethod::parse)?,
                reference: r.get(4),
                received_at: r.get(5),
            };
            inv.paid_paise += p.amount_paise;
            inv.payments.push(p);
        }
    }
    with_credit_notes(tx, clinic, &ids, &mut list).await?;
    Ok(list)
}

/// Attach each invoice's credit notes with their lines (two queries per page).
async fn with_credit_notes(
    tx: &RequestTx,
    clinic: Uuid,
    ids: &[Uuid],
    list: &mut [Invoice],
) -> Result<(), AppError> {
    for r in tx
        .query(
            "SELECT invoice_id, id, series, number, issued_at, reason,
                    taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise
             FROM vaidya.credit_notes WHERE clinic_id = $1 AND invoice_id = ANY($2)
             ORDER BY issued_at, series, number",
            &[&clinic, &ids],
        )
        .await?
    {
        let parent: Uuid = r.get("invoice_id");
        let (series, number): (String, i64) = (r.get("series"), r.get("number"));
        if let Some(inv) = list.iter_mut().find(|i| i.id == parent) {
            inv.credit_notes.push(CreditNote {
                id: r.get("id"),
                invoice_id: parent,
                credit_note_number: gst::invoice_number(&series, number),
                series,
                number,
                issued_at: r.get("issued_at"),
                reason: r.get("reason"),
                lines: Vec::new(),
                totals: tax_of(&r),
            });
        }
    }
    let note_ids: Vec<Uuid> = list
        .iter()
        .flat_map(|i| i.credit_notes.iter().map(|c| c.id))
        .collect();
    if note_ids.is_empty() {
        return Ok(());
    }
    for r in tx
        .query(
            "SELECT c.credit_note_id, c.invoice_line_id, c.position, c.gst_rate_bp,
                    l.description, l.sac_hsn,
                    c.taxable_paise, c.cgst_paise, c.sgst_paise, c.igst_paise, c.total_paise
             FROM vaidya.credit_note_lines c
             JOIN vaidya.invoice_lines l ON l.clinic_id = c.clinic_id AND l.id = c.invoice_line_id
             WHERE c.clinic_id = $1 AND c.credit_note_id = ANY($2)
             ORDER BY c.credit_note_id, c.position",
            &[&clinic, &note_ids],
        )
        .await?
    {
        let note_id: Uuid = r.get("credit_note_id");
        let note = list
            .iter_mut()
            .flat_map(|i| i.credit_notes.iter_mut())
            .find(|c| c.id == note_id);
        if let Some(note) = note {
            note.lines.push(CreditNoteLine {
                invoice_line_id: r.get("invoice_line_id"),
                position: r.get("position"),
                description: r.get("description"),
                sac_hsn: r.get("sac_hsn"),
                gst_rate_bp: r.get::<_, i32>("gst_rate_bp") as u32,
                tax: tax_of(&r),
            });
        }
    }
    Ok(())
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Invoice, AppError> {
    let inv = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM vaidya.invoices WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
            &[&clinic, &id],
        )
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(AppError::not_found)?;
    Ok(with_details(tx, clinic, vec![inv]).await?.remove(0))
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/invoices", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ClinicalQuery),
    responses((status = 200, body = Page<Invoice>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ClinicalQuery>,
) -> Result<Json<Page<Invoice>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Read).await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.invoices
                         WHERE clinic_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR patient_id = $2)
                         ORDER BY issued_at DESC, id LIMIT $3 OFFSET $4"
                    ),
                    &[&clinic, &q.patient_id, &paging.fetch(), &paging.offset],
                )
                .await?;
            let mut page = paging.page(rows.iter().map(from_row).collect());
            page.items = with_details(tx, clinic, page.items).await?;
            let ids: Vec<Uuid> = page.items.iter().map(|i| i.id).collect();
            let patients: Vec<Uuid> = page.items.iter().map(|i| i.patient_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &patients).await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/invoice-series", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    request_body = NewInvoiceSeries,
    responses((status = 200, body = InvoiceSeries, description = "The code of this PC's clinic file: the same on every call"),
        (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, description = "`invalid_state`: the file is another device's, or the clinic has used all its codes", body = ApiError),
        (status = 422, body = ApiError)))]
/// The code this PC's file of the clinic numbers its offline invoices under (series
/// `<year>-<code>`), allocated once and bound to the asking device (`x-vaidya-device`).
/// Any member may ask: whoever opens the clinic first on a PC.
pub async fn allocate_series(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewInvoiceSeries>,
) -> Result<Json<InvoiceSeries>, AppError> {
    let partition = body.partition_id;
    super::check_partition_id(&partition)?;
    let device = meta
        .device
        .clone()
        .filter(|d| (1..=200).contains(&d.len()))
        .ok_or_else(|| AppError::field("x-vaidya-device", "Name the device (1–200 characters)."))?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            // A person's PC: the clinic hub issues no invoices (its PCs keep their series).
            tx.check_role(clinic, &Role::STAFF, "invoice_series")
                .await?;
            let kept = tx
                .query_opt(
                    "SELECT code, device FROM vaidya.invoice_device_series
                     WHERE clinic_id = $1 AND partition_id = $2",
                    &[&clinic, &partition],
                )
                .await?;
            if let Some(row) = kept {
                if row.get::<_, &str>(1) != device {
                    return Err(AppError::client(
                        ErrorCode::InvalidState,
                        "This clinic file's series belongs to another device.",
                    ));
                }
                return Ok(Json(InvoiceSeries { code: row.get(0) }));
            }
            let n = super::next_counter(tx, clinic, "invoice_device_series").await?;
            let code = numbering::device_code(n).ok_or_else(|| {
                AppError::client(
                    ErrorCode::InvalidState,
                    "This clinic has used all its device series codes; ask support.",
                )
            })?;
            tx.execute(
                "INSERT INTO vaidya.invoice_device_series (clinic_id, code, partition_id, device, allocated_by)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&clinic, &code, &partition, &device, &tx.user_id()],
            )
            .await?;
            tx.audit(clinic, AuditAction::Create, "invoice_series", &[], &[]).await?;
            Ok(Json(InvoiceSeries { code }))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/cancelled-invoice-numbers", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CancelledInvoiceNumber>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// Numbers of device series whose invoices were discarded before the books took them, by
/// series and number: what the accountant reads next to the issued invoices.
pub async fn cancelled_numbers(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<CancelledInvoiceNumber>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Read)
                .await?;
            let rows = tx
                .query(
                    "SELECT series, number, invoice_id, reason, cancelled_at
                     FROM vaidya.cancelled_invoice_numbers WHERE clinic_id = $1
                     ORDER BY series, number",
                    &[&clinic],
                )
                .await?;
            let list: Vec<CancelledInvoiceNumber> = rows
                .iter()
                .map(|r| CancelledInvoiceNumber {
                    series: r.get(0),
                    number: r.get(1),
                    invoice_id: r.get(2),
                    reason: r.get(3),
                    cancelled_at: r.get(4),
                })
                .collect();
            let ids: Vec<Uuid> = list.iter().map(|n| n.invoice_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &[])
                .await?;
            Ok(Json(list))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/invoices/{id}", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Invoice), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Invoice>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Read)
                .await?;
            let inv = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[id], &[inv.patient_id])
                .await?;
            Ok(Json(inv))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/invoices", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewInvoice,
    responses((status = 201, body = Invoice), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewInvoice>,
) -> Result<(StatusCode, Json<Invoice>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Create)
                .await?;
            let inv = insert(tx, clinic, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                ENTITY,
                &[inv.id],
                &[inv.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(inv)))
        })
        .await
}

/// A series takes a document of its own kind, dated in its year, and a device series only
/// from the device its code was allocated to (`POST /v1/clinics/{id}/invoice-series`): two
/// PCs never number into one series.
pub async fn check_series_of(
    tx: &RequestTx,
    clinic: Uuid,
    series: &str,
    document: Document,
) -> Result<(), AppError> {
    let parsed = Series::parse(series);
    if parsed.document() != document {
        return Err(AppError::field(
            "series",
            format!("Series {series} numbers another kind of document."),
        ));
    }
    numbering::check_issue_year(series, tx.acted_at()).map_err(|m| AppError::field("series", m))?;
    match parsed {
        Series::Device(_, _, n) => {
            let code = numbering::device_code(n).unwrap_or_default();
            device_series_is_mine(tx, clinic, &code).await
        }
        // The clinic's own series are numbered by the group server alone: a clinic hub
        // (issue 11) takes in only bills a PC numbered in its own series.
        _ if tx.is_hub_of(clinic).await? => Err(AppError::field(
            "series",
            "Through the clinic hub, a bill is numbered in this PC's own series.",
        )),
        _ => Ok(()),
    }
}

async fn device_series_is_mine(tx: &RequestTx, clinic: Uuid, code: &str) -> Result<(), AppError> {
    let owner = tx
        .query_opt(
            "SELECT device = current_setting('app.device', true)
             FROM vaidya.invoice_device_series WHERE clinic_id = $1 AND code = $2",
            &[&clinic, &code],
        )
        .await?;
    match owner.map(|r| r.get::<_, bool>(0)) {
        Some(true) => Ok(()),
        Some(false) => Err(AppError::field(
            "series",
            format!("Series code {code} belongs to another PC of this clinic."),
        )),
        None => Err(AppError::field(
            "series",
            format!("Series code {code} was never allocated in this clinic."),
        )),
    }
}

/// Validate, tax and issue an invoice. The main series is numbered by the server; a
/// device's own series (offline issue) brings its number, unique within the series.
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewInvoice>,
) -> Result<Invoice, AppError> {
    // No series: the main series of the year the invoice is issued in.
    let series = match &new.series {
        Some(series) => series.clone(),
        None => numbering::main_series(Document::Invoice, tx.acted_at()),
    };
    check_series_of(tx, clinic, &series, Document::Invoice).await?;
    if let Some(doctor) = new.doctor_id {
        // A doctor of this clinic (one revoked since the bill was made still was one).
        let is_doctor = tx
            .query_opt(
                "SELECT 1 FROM vaidya.memberships WHERE clinic_id = $1 AND user_id = $2 AND role = 'doctor'",
                &[&clinic, &doctor],
            )
            .await?
            .is_some();
        if !is_doctor {
            return Err(AppError::field(
                "doctor_id",
                "The doctor billed for is not a doctor of this clinic.",
            ));
        }
    }
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let clinic_row = super::clinics::load(tx, clinic).await?;
    // The shared GST rules decide, as on the device that issued it offline: place of
    // supply, the rates in force on the issue date, no GST without a GSTIN.
    let lines = new.line_inputs();
    // The clinic as it is now is the supplier printed on this invoice, for good.
    let supplier = InvoiceSupplier::of(&clinic_row);
    let taxed = gst::tax_invoice(
        supplier.gst(),
        new.place_of_supply.as_deref(),
        &lines,
        tx.acted_at(),
    )
    .map_err(|r| AppError::field(&r.field, r.message))?;
    let (place, kind, taxes, totals) = (
        taxed.place_of_supply,
        taxed.supply_kind,
        taxed.lines,
        taxed.totals,
    );
    let number = match new.number {
        Some(n) => n,
        None => super::next_counter(tx, clinic, &format!("invoice:{series}")).await?,
    };
    let kind_str = match kind {
        SupplyKind::IntraState => "intra_state",
        SupplyKind::InterState => "inter_state",
    };
    tx.execute(
        "INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at, place_of_supply, supply_kind,
                taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise,
                supplier_name, supplier_address, supplier_gstin, supplier_state, recipient_gstin, recipient_name, doctor_id)
         VALUES ($1, $2, $3, $4, $5, $13, $6, $7, $8, $9, $10, $11, $12, $14, $15, $16, $17, $18, $19, $20)",
        &[&id, &clinic, &new.patient_id, &series, &number, &place, &kind_str,
          &totals.taxable_paise, &totals.cgst_paise, &totals.sgst_paise, &totals.igst_paise, &totals.total_paise,
          &tx.acted_at(), &supplier.name, &supplier.address, &supplier.gstin, &supplier.state_code,
          &new.recipient.as_ref().map(|r| &r.gstin), &new.recipient.as_ref().map(|r| &r.name), &new.doctor_id],
    )
    .await?;
    for (position, (l, t)) in new.lines.iter().zip(&taxes).enumerate() {
        // Validated lines always name both (`Validate for NewInvoice`).
        let treatment = l
            .treatment
            .unwrap_or_else(|| gst::TaxTreatment::default_for(l.gst_rate_bp));
        let unit = l
            .unit
            .as_deref()
            .unwrap_or_else(|| gst::default_unit(&l.sac_hsn));
        tx.execute(
            "INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn, quantity,
                    unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise,
                    treatment, unit)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            &[&gst::invoice_line_id(id, position), &clinic, &id, &(position as i32), &l.description, &l.sac_hsn, &l.quantity,
              &l.unit_price_paise, &l.discount_paise, &(l.gst_rate_bp as i32),
              &t.taxable_paise, &t.cgst_paise, &t.sgst_paise, &t.igst_paise, &t.total_paise,
              &treatment.as_str(), &unit],
        )
        .await?;
    }
    load(tx, clinic, id).await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/invoices/{id}/payments", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = NewPayment,
    responses((status = 201, body = Invoice), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn add_payment(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, invoice_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(new): ApiJson<NewPayment>,
) -> Result<(StatusCode, Json<Invoice>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Payment, Action::Create)
                .await?;
            let (payment_id, inv) =
                insert_payment(tx, clinic, invoice_id, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                "payment",
                &[payment_id, invoice_id],
                &[inv.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(inv)))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/invoices/{id}/cancel", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = CancelInvoice,
    responses((status = 200, body = Invoice),
        (status = 403, description = "`forbidden`: the member's role may not cancel invoices", body = ApiError),
        (status = 409, description = "`invalid_state`: already cancelled, or something is paid on it (refund first)", body = ApiError),
        (status = 422, description = "`invalid_field`: no reason given", body = ApiError)))]
/// Cancels an issued invoice: kept with its number, marked cancelled with the reason, and
/// reported as cancelled. Only an invoice with nothing paid on it (refund first).
pub async fn cancel(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, invoice_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<CancelInvoice>,
) -> Result<Json<Invoice>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Invoice, Action::Cancel)
                .await?;
            let inv = cancel_invoice(tx, clinic, invoice_id, body.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Update,
                ENTITY,
                &[invoice_id],
                &[inv.patient_id],
            )
            .await?;
            Ok(Json(inv))
        })
        .await
}

/// The invoice, locked for the rest of the transaction: a payment, a credit note or a
/// cancellation is decided on it as it stands, and nothing else changes it meanwhile.
async fn load_locked(tx: &RequestTx, clinic: Uuid, invoice_id: Uuid) -> Result<Invoice, AppError> {
    tx.query_opt(
        "SELECT 1 FROM vaidya.invoices WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
        &[&clinic, &invoice_id],
    )
    .await?
    .ok_or_else(AppError::not_found)?;
    load(tx, clinic, invoice_id).await
}

/// Marks an invoice cancelled, by the acting member at the act's time, if the shared rules
/// allow it now (locked, so a payment cannot slip in between the check and the mark).
pub async fn cancel_invoice(
    tx: &RequestTx,
    clinic: Uuid,
    invoice_id: Uuid,
    cancel: Valid<CancelInvoice>,
) -> Result<Invoice, AppError> {
    let inv = load_locked(tx, clinic, invoice_id).await?;
    invoice_cancellable(&inv)?;
    tx.execute(
        "UPDATE vaidya.invoices SET cancelled_at = $3, cancelled_by = $4, cancel_reason = $5,
                cancel_recorded_at = now()
         WHERE clinic_id = $1 AND id = $2",
        &[
            &clinic,
            &invoice_id,
            &tx.acted_at(),
            &tx.user_id(),
            &cancel.reason,
        ],
    )
    .await?;
    load(tx, clinic, invoice_id).await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/invoices/{id}/credit-notes", tag = "invoices", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = NewCreditNote,
    responses((status = 201, body = Invoice, description = "The invoice with its new credit note"),
        (status = 403, description = "`forbidden`: the member's role may not issue credit notes", body = ApiError),
        (status = 409, description = "`invalid_state`: the invoice is cancelled, or the s. 34(2) time limit has passed", body = ApiError),
        (status = 422, description = "`invalid_field`: a line not on the invoice, more than is left of a line, no reason", body = ApiError)))]
/// Issues a credit note against an invoice (CGST Act s. 34): part or all of its lines'
/// value given back, numbered in the clinic's credit-note series of the year.
pub async fn add_credit_note(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, invoice_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(new): ApiJson<NewCreditNote>,
) -> Result<(StatusCode, Json<Invoice>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::CreditNote, Action::Create)
                .await?;
            let (note_id, inv) =
                insert_credit_note(tx, clinic, invoice_id, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                "credit_note",
                &[note_id, invoice_id],
                &[inv.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(inv)))
        })
        .await
}

/// Issues a credit note through the shared rules (`credit_note_lines`), at the act's time,
/// by the acting member; the invoice is locked so two desks cannot credit one line twice.
pub async fn insert_credit_note(
    tx: &RequestTx,
    clinic: Uuid,
    invoice_id: Uuid,
    new: Valid<NewCreditNote>,
) -> Result<(Uuid, Invoice), AppError> {
    let new = new.into_inner();
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let inv = load_locked(tx, clinic, invoice_id).await?;
    let (lines, totals) = credit_note_lines(&inv, &new, tx.acted_at())?;
    let series = match &new.series {
        Some(series) => series.clone(),
        None => numbering::main_series(Document::CreditNote, tx.acted_at()),
    };
    check_series_of(tx, clinic, &series, Document::CreditNote).await?;
    let number = match new.number {
        Some(n) => n,
        None => super::next_counter(tx, clinic, &format!("credit_note:{series}")).await?,
    };
    tx.execute(
        "INSERT INTO vaidya.credit_notes (id, clinic_id, invoice_id, series, number, issued_at, issued_by, reason,
                taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[&id, &clinic, &invoice_id, &series, &number, &tx.acted_at(), &tx.user_id(), &new.reason,
          &totals.taxable_paise, &totals.cgst_paise, &totals.sgst_paise, &totals.igst_paise, &totals.total_paise],
    )
    .await?;
    for l in &lines {
        let t = l.tax;
        tx.execute(
            "INSERT INTO vaidya.credit_note_lines (id, clinic_id, credit_note_id, invoice_line_id, position, gst_rate_bp,
                    taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[&Uuid::now_v7(), &clinic, &id, &l.invoice_line_id, &l.position, &(l.gst_rate_bp as i32),
              &t.taxable_paise, &t.cgst_paise, &t.sgst_paise, &t.igst_paise, &t.total_paise],
        )
        .await?;
    }
    Ok((id, load(tx, clinic, invoice_id).await?))
}

/// Record a payment against an invoice; never more than is due.
pub async fn insert_payment(
    tx: &RequestTx,
    clinic: Uuid,
    invoice_id: Uuid,
    new: Valid<NewPayment>,
) -> Result<(Uuid, Invoice), AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    // Locked, so two desks can't both take the last rupee.
    let inv = load_locked(tx, clinic, invoice_id).await?;
    payment_fits(new.amount_paise, &inv)?;
    tx.execute(
        "INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, reference, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &clinic, &invoice_id, &new.amount_paise, &new.method.as_str(), &new.reference, &tx.acted_at()],
    )
    .await?;
    Ok((id, load(tx, clinic, invoice_id).await?))
}

impl Store for kinds::Invoice {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Invoice, AppError> {
        Ok(from_row(r))
    }
    async fn with_children(
        tx: &RequestTx,
        clinic: Uuid,
        list: Vec<Invoice>,
    ) -> Result<Vec<Invoice>, AppError> {
        with_details(tx, clinic, list).await
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewInvoice>,
    ) -> Result<Invoice, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        _tx: &RequestTx,
        _clinic: Uuid,
        _id: Uuid,
        patch: Valid<Unchangeable>,
    ) -> Result<Invoice, AppError> {
        match patch.into_inner() {}
    }
}

/// A payment travels inside its invoice: it is stored and loaded as the invoice.
impl Store for kinds::Payment {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Invoice, AppError> {
        Ok(from_row(r))
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        parent: Option<Uuid>,
        new: Valid<NewPayment>,
    ) -> Result<Invoice, AppError> {
        let invoice = crate::store::parent_of(EntityKind::Payment, parent)?;
        Ok(insert_payment(tx, clinic, invoice, new).await?.1)
    }
    async fn patch(
        _tx: &RequestTx,
        _clinic: Uuid,
        _id: Uuid,
        patch: Valid<Unchangeable>,
    ) -> Result<Invoice, AppError> {
        match patch.into_inner() {}
    }
}

/// A credit note travels inside its invoice, like a payment.
impl Store for kinds::CreditNote {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Invoice, AppError> {
        Ok(from_row(r))
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        parent: Option<Uuid>,
        new: Valid<NewCreditNote>,
    ) -> Result<Invoice, AppError> {
        let invoice = crate::store::parent_of(EntityKind::CreditNote, parent)?;
        Ok(insert_credit_note(tx, clinic, invoice, new).await?.1)
    }
    async fn patch(
        _tx: &RequestTx,
        _clinic: Uuid,
        _id: Uuid,
        patch: Valid<Unchangeable>,
    ) -> Result<Invoice, AppError> {
        match patch.into_inner() {}
    }
}

/// Records device invoice numbers whose invoices were discarded (the caller checked the
/// role): once each (a retried push changes nothing), never over a number an issued invoice
/// holds (that invoice stands), and never dated later than the server's clock.
pub async fn record_cancelled_numbers(
    tx: &RequestTx,
    clinic: Uuid,
    numbers: &[CancelledInvoiceNumber],
) -> Result<(), AppError> {
    let now = chrono::Utc::now();
    let series: Vec<&str> = numbers.iter().map(|n| n.series.as_str()).collect();
    let values: Vec<i64> = numbers.iter().map(|n| n.number).collect();
    let invoice_ids: Vec<Uuid> = numbers.iter().map(|n| n.invoice_id).collect();
    let reasons: Vec<Option<&str>> = numbers.iter().map(|n| n.reason.as_deref()).collect();
    let at: Vec<chrono::DateTime<chrono::Utc>> =
        numbers.iter().map(|n| n.cancelled_at.min(now)).collect();
    tx.execute(
        "INSERT INTO vaidya.cancelled_invoice_numbers
             (clinic_id, series, number, invoice_id, reason, cancelled_at, recorded_by)
         SELECT $1, t.series, t.number, t.invoice_id, t.reason, t.at, $7
         FROM unnest($2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::timestamptz[])
              AS t(series, number, invoice_id, reason, at)
         WHERE NOT EXISTS (SELECT 1 FROM vaidya.invoices i
                           WHERE i.clinic_id = $1 AND i.series = t.series AND i.number = t.number)
         ON CONFLICT DO NOTHING",
        &[
            &clinic,
            &series,
            &values,
            &invoice_ids,
            &reasons,
            &at,
            &tx.user_id(),
        ],
    )
    .await?;
    Ok(())
}
