//! Invoices and payments: the clinic's GST state decides the tax split; `OpenClinic`
//! checks the rules and takes the device's invoice number.

use super::*;
use vaidya_shared::gst;

impl Core {
    // -------------------------------------------------------------- billing

    pub async fn create_invoice(&self, new: NewInvoice) -> Result<Invoice, UiError> {
        let (state_code, gstin) = {
            let state = self.state.lock().await;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            // The clinic's own GST details (from the server or its cached copy) decide the
            // document, the place of supply and whether GST may be charged. Never a guess:
            // a PC that has not yet loaded them does not bill.
            let details = clinic.clinic.as_ref().ok_or_else(|| {
                UiError::invalid(
                    "lines",
                    "This PC has not loaded the clinic's GST details yet; connect to the server once, then bill.",
                )
            })?;
            (details.state_code.clone(), details.gstin.clone())
        };
        self.with_clinic(move |c| {
            let supplier = gst::Supplier {
                state_code: &state_code,
                gstin: gstin.as_deref(),
            };
            Ok(c.issue_invoice(new, supplier)?)
        })
        .await
    }

    pub async fn add_payment(
        &self,
        invoice_id: Uuid,
        payment: NewPayment,
    ) -> Result<Invoice, UiError> {
        self.with_clinic(move |c| Ok(c.take_payment(invoice_id, payment)?))
            .await
    }
}
