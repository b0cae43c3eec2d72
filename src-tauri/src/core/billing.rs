//! Invoices and payments: the clinic's GST state decides the tax split; `OpenClinic`
//! checks the rules and takes the device's invoice number.

use super::*;

impl Core {
    // -------------------------------------------------------------- billing

    pub async fn create_invoice(&self, new: NewInvoice) -> Result<Invoice, UiError> {
        let clinic_state = {
            let state = self.state.lock().await;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            // The clinic's own state (from the server or its cached copy) decides CGST+SGST
            // or IGST. Never a guess: a PC that has not yet loaded the clinic's details
            // bills only with an explicit place of supply.
            clinic
                .clinic
                .as_ref()
                .map(|c| c.state_code.clone())
                .or_else(|| new.place_of_supply.clone())
                .ok_or_else(|| {
                    UiError::invalid(
                        "place_of_supply",
                        "This PC has not loaded the clinic's GST details yet; connect once or choose the place of supply.",
                    )
                })?
        };
        self.with_clinic(move |c| Ok(c.issue_invoice(new, &clinic_state)?))
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
