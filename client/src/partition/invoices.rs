//! Cached GST invoices with their lines and payments. Amounts are integer paise; the tax
//! breakdown is stored as columns, exactly as the server computed it.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{Invoice, InvoiceLine, Payment, PaymentMethod};
use vaidya_shared::gst::{LineTax, SupplyKind, TaxTreatment};

use super::cache::{Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::EntityKind;
use super::sql::{enum_at, id_blob, micros, opt_uuid_at, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

fn supply_kind_str(kind: SupplyKind) -> &'static str {
    match kind {
        SupplyKind::IntraState => "intra_state",
        SupplyKind::InterState => "inter_state",
    }
}

fn parse_supply_kind(s: &str) -> Option<SupplyKind> {
    [SupplyKind::IntraState, SupplyKind::InterState]
        .into_iter()
        .find(|k| supply_kind_str(*k) == s)
}

/// Reads five consecutive tax columns starting at `idx`.
fn tax_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<LineTax> {
    Ok(LineTax {
        taxable_paise: row.get(idx)?,
        cgst_paise: row.get(idx + 1)?,
        sgst_paise: row.get(idx + 2)?,
        igst_paise: row.get(idx + 3)?,
        total_paise: row.get(idx + 4)?,
    })
}

const COLUMNS: &str =
    "id, vaidya_clinic_id(), patient_id, series, number, invoice_number, issued_at, \
                       place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, \
                       igst_paise, total_paise, paid_paise, version, supplier, recipient, \
                       cancellation, credit_notes, doctor_id";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Invoice> {
    Ok(Invoice {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_id: uuid_at(row, 2)?,
        series: row.get(3)?,
        number: row.get(4)?,
        invoice_number: row.get(5)?,
        issued_at: ts_at(row, 6)?,
        place_of_supply: row.get(7)?,
        supply_kind: enum_at(row, 8, parse_supply_kind)?,
        lines: Vec::new(),
        totals: tax_at(row, 9)?,
        payments: Vec::new(),
        paid_paise: row.get(14)?,
        version: row.get(15)?,
        supplier: json_at(row, 16)?,
        recipient: json_at(row, 17)?,
        cancellation: json_at(row, 18)?,
        credit_notes: json_at(row, 19)?.unwrap_or_default(),
        doctor_id: opt_uuid_at(row, 20)?,
    })
}

/// An optional JSON column as the value it holds.
fn json_at<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(idx)?
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
}

/// Writes the invoice and replaces its lines and payments with the ones it carries.
pub(crate) fn upsert(conn: &Connection, i: &Invoice) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO invoices (id, patient_id, series, number, invoice_number,
                               issued_at, place_of_supply, supply_kind, taxable_paise,
                               cgst_paise, sgst_paise, igst_paise, total_paise, paid_paise,
                               version, supplier, recipient, cancellation, credit_notes, doctor_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20)
         ON CONFLICT (id) DO UPDATE SET
             patient_id = excluded.patient_id,
             series = excluded.series, number = excluded.number,
             invoice_number = excluded.invoice_number, issued_at = excluded.issued_at,
             place_of_supply = excluded.place_of_supply, supply_kind = excluded.supply_kind,
             taxable_paise = excluded.taxable_paise, cgst_paise = excluded.cgst_paise,
             sgst_paise = excluded.sgst_paise, igst_paise = excluded.igst_paise,
             total_paise = excluded.total_paise, paid_paise = excluded.paid_paise,
             version = excluded.version, supplier = excluded.supplier,
             recipient = excluded.recipient, cancellation = excluded.cancellation,
             credit_notes = excluded.credit_notes, doctor_id = excluded.doctor_id",
    )?
    .execute(params![
        id_blob(&i.id),
        id_blob(&i.patient_id),
        i.series,
        i.number,
        i.invoice_number,
        micros(&i.issued_at),
        i.place_of_supply,
        supply_kind_str(i.supply_kind),
        i.totals.taxable_paise,
        i.totals.cgst_paise,
        i.totals.sgst_paise,
        i.totals.igst_paise,
        i.totals.total_paise,
        i.paid_paise,
        i.version,
        i.supplier
            .as_ref()
            .map(|s| serde_json::to_string(s).expect("a supplier serializes")),
        i.recipient
            .as_ref()
            .map(|r| serde_json::to_string(r).expect("a recipient serializes")),
        i.cancellation
            .as_ref()
            .map(|c| serde_json::to_string(c).expect("a cancellation serializes")),
        (!i.credit_notes.is_empty())
            .then(|| serde_json::to_string(&i.credit_notes).expect("credit notes serialize")),
        i.doctor_id.as_ref().map(id_blob),
    ])?;

    let id = id_blob(&i.id);
    conn.prepare_cached("DELETE FROM invoice_lines WHERE invoice_id = ?1")?
        .execute([&id])?;
    let mut insert_line = conn.prepare_cached(
        "INSERT INTO invoice_lines (id, invoice_id, position, description, sac_hsn, quantity,
                                    unit_price_paise, discount_paise, gst_rate_bp,
                                    taxable_paise, cgst_paise, sgst_paise, igst_paise,
                                    total_paise, treatment, unit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for line in &i.lines {
        insert_line.execute(params![
            id_blob(&line.id),
            id,
            line.position,
            line.description,
            line.sac_hsn,
            line.quantity,
            line.unit_price_paise,
            line.discount_paise,
            line.gst_rate_bp,
            line.tax.taxable_paise,
            line.tax.cgst_paise,
            line.tax.sgst_paise,
            line.tax.igst_paise,
            line.tax.total_paise,
            line.treatment.map(|t| t.as_str()),
            line.unit,
        ])?;
    }

    conn.prepare_cached("DELETE FROM invoice_payments WHERE invoice_id = ?1")?
        .execute([&id])?;
    let mut insert_payment = conn.prepare_cached(
        "INSERT INTO invoice_payments (id, invoice_id, amount_paise, method, reference,
                                       received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for payment in &i.payments {
        insert_payment.execute(params![
            id_blob(&payment.id),
            id,
            payment.amount_paise,
            payment.method.as_str(),
            payment.reference,
            micros(&payment.received_at),
        ])?;
    }
    Ok(())
}

fn load_children(conn: &Connection, invoice: &mut Invoice) -> rusqlite::Result<()> {
    let id = id_blob(&invoice.id);
    let mut lines = conn.prepare_cached(
        "SELECT id, position, description, sac_hsn, quantity, unit_price_paise, discount_paise,
                gst_rate_bp, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise,
                treatment, unit
         FROM invoice_lines WHERE invoice_id = ?1 ORDER BY position, id",
    )?;
    invoice.lines = lines
        .query_map([&id], |row| {
            Ok(InvoiceLine {
                id: uuid_at(row, 0)?,
                position: row.get(1)?,
                description: row.get(2)?,
                sac_hsn: row.get(3)?,
                quantity: row.get(4)?,
                unit_price_paise: row.get(5)?,
                discount_paise: row.get(6)?,
                gst_rate_bp: row.get(7)?,
                tax: tax_at(row, 8)?,
                treatment: row
                    .get::<_, Option<String>>(13)?
                    .as_deref()
                    .and_then(TaxTreatment::parse),
                unit: row.get(14)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut payments = conn.prepare_cached(
        "SELECT id, invoice_id, amount_paise, method, reference, received_at
         FROM invoice_payments WHERE invoice_id = ?1 ORDER BY received_at, id",
    )?;
    invoice.payments = payments
        .query_map([&id], |row| {
            Ok(Payment {
                id: uuid_at(row, 0)?,
                invoice_id: uuid_at(row, 1)?,
                amount_paise: row.get(2)?,
                method: enum_at(row, 3, PaymentMethod::parse)?,
                reference: row.get(4)?,
                received_at: ts_at(row, 5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

impl ClinicPartition {
    pub fn get_invoice(&self, id: Uuid) -> Result<Option<Invoice>, PartitionError> {
        self.read::<kinds::Invoice>(id)
    }

    /// A patient's invoices, latest first, with lines and payments.
    pub fn invoices_for_patient(&self, patient_id: Uuid) -> Result<Vec<Invoice>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM invoices WHERE patient_id = ?1 ORDER BY issued_at DESC, id"
        ))?;
        let mut invoices: Vec<Invoice> = stmt
            .query_map([id_blob(&patient_id)], from_row)?
            .collect::<Result<_, _>>()?;
        for i in &mut invoices {
            load_children(&self.conn, i)?;
        }
        let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
        self.record_access(ReadAction::List, EntityKind::Invoice, &ids, &[patient_id])?;
        Ok(invoices)
    }
}

impl CachedRow for Invoice {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }

    /// A corrected payment amount changes what the invoice shows as paid.
    fn recompute(&mut self) {
        self.paid_paise = self.payments.iter().map(|p| p.amount_paise).sum();
    }
}

impl Cached for kinds::Invoice {
    /// The cached invoice without recording a read: for changes to an invoice the user has open.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Invoice>, PartitionError> {
        let mut invoice = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM invoices WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?;
        if let Some(i) = invoice.as_mut() {
            load_children(conn, i)?;
        }
        Ok(invoice)
    }
}

/// A payment travels inside its invoice: cached and read back as the invoice.
impl Cached for kinds::Payment {
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Invoice>, PartitionError> {
        kinds::Invoice::peek(conn, id)
    }
}

/// A credit note travels inside its invoice, like a payment.
impl Cached for kinds::CreditNote {
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Invoice>, PartitionError> {
        kinds::Invoice::peek(conn, id)
    }
}
