//! Rejected changes a person corrects, resends or discards (the Unsent changes screen), and
//! the shapes the screen shows.

use super::*;

impl Core {
    // -------------------------------------------------------------- unsent changes

    /// The changes the server rejected, described for a person, and the device invoice
    /// numbers cancelled by discarding. Clinical changes (notes, prescriptions) show their
    /// values only to clinicians, as the chart does.
    pub async fn unsent_changes(&self) -> Result<UnsentView, UiError> {
        self.read_partition(|p, _, role| {
            let changes = p
                .rejected_changes()?
                .into_iter()
                .map(|c| UnsentChangeView::new(c, role))
                .collect();
            let voided = p
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
        self.with_partition(move |p, _, role| {
            check_unsent_access(p, mutation_id, role)?;
            Ok(p.resend_change(mutation_id, &corrections)?
                .mutation
                .mutation_id)
        })
        .await
    }

    /// Discards a rejected change (audited as `discard` with the next push); returns the
    /// device invoice number recorded as cancelled, if the change used one.
    pub async fn discard_change(&self, mutation_id: Uuid) -> Result<Option<String>, UiError> {
        self.with_partition(move |p, _, role| {
            check_unsent_access(p, mutation_id, role)?;
            let outcome = p.discard_change(mutation_id)?;
            if !outcome.discarded {
                return Err(UiError::new("not_found", "no such rejected change"));
            }
            Ok(outcome.voided_invoice_number)
        })
        .await
    }
}

// ------------------------------------------------------------------ unsent changes: shapes

/// Whether this member may see and change a rejected change's values: what the permission
/// table lets the role read (a front desk never opens a clinician's rejected note).
fn may_open(entity: EntityKind, role: Role) -> bool {
    rules::may(role, Resource::from(entity), Action::Read)
}

/// Refuses a correction or discard of a change this member may not open.
fn check_unsent_access(p: &ClinicPartition, mutation_id: Uuid, role: Role) -> Result<(), UiError> {
    let entity = p
        .outbox()?
        .into_iter()
        .find(|e| e.mutation.mutation_id == mutation_id)
        .map(|e| e.mutation.entity);
    match entity {
        Some(entity) if !may_open(entity, role) => {
            Err(rules::permissions::denied(role, entity.into(), Action::Read).into())
        }
        _ => Ok(()),
    }
}

/// One rejected change for the Unsent changes screen: the client core's description, and
/// whether this member may open it (its values are withheld otherwise).
#[derive(Debug, Clone, Serialize)]
pub struct UnsentChangeView {
    #[serde(flatten)]
    pub change: vaidya_client::partition::UnsentChange,
    /// False for a clinical change shown to a non-clinician: listed, not opened.
    pub may_change: bool,
}

impl UnsentChangeView {
    fn new(mut change: vaidya_client::partition::UnsentChange, role: Role) -> UnsentChangeView {
        let may_change = may_open(change.entity, role);
        if !may_change {
            change.editable.clear();
        }
        UnsentChangeView { change, may_change }
    }
}

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
    pub changes: Vec<UnsentChangeView>,
    pub voided: Vec<VoidedInvoiceView>,
}
