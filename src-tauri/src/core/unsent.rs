//! Rejected changes a person corrects, resends or discards (the Unsent changes screen), and
//! the shapes the screen shows.

use super::*;

impl Core {
    // -------------------------------------------------------------- unsent changes

    /// The changes the server rejected, described for a person, and the device invoice
    /// numbers cancelled by discarding. Clinical changes (notes, prescriptions) show their
    /// values only to clinicians, as the chart does.
    pub async fn unsent_changes(&self) -> Result<UnsentView, UiError> {
        self.with_clinic_reading(|c| {
            let changes = c.unsent_changes()?;
            let voided = c
                .voided_invoice_numbers()?
                .into_iter()
                .map(VoidedInvoiceView::from)
                .collect();
            Ok(UnsentView { changes, voided })
        })
        .await
    }

    /// Corrects a rejected change and queues it again (a new mutation id, same place in
    /// the outbox); the background sync is nudged to send it at once.
    pub async fn resend_change(
        &self,
        mutation_id: Uuid,
        corrections: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Uuid, UiError> {
        self.with_clinic(move |c| {
            Ok(c.resend_change(mutation_id, &corrections)?
                .mutation
                .mutation_id)
        })
        .await
    }

    /// Discards a rejected change (audited as `discard` with the next push); returns the
    /// device invoice number recorded as cancelled, if the change used one.
    pub async fn discard_change(&self, mutation_id: Uuid) -> Result<Option<String>, UiError> {
        self.with_clinic(move |c| Ok(c.discard_change(mutation_id)?.voided_invoice_number))
            .await
    }
}

// ------------------------------------------------------------------ unsent changes: shapes

/// A device invoice number cancelled because its invoice was discarded.
#[derive(Debug, Clone, Serialize)]
pub struct VoidedInvoiceView {
    pub invoice_number: String,
    pub invoice_id: Uuid,
    pub voided_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl From<vaidya_client::partition::VoidedInvoiceNumber> for VoidedInvoiceView {
    fn from(v: vaidya_client::partition::VoidedInvoiceNumber) -> Self {
        VoidedInvoiceView {
            invoice_number: v.invoice_number,
            invoice_id: v.invoice_id,
            voided_at: v.voided_at,
            reason: v.reason,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UnsentView {
    pub changes: Vec<vaidya_client::MemberUnsentChange>,
    pub voided: Vec<VoidedInvoiceView>,
}
