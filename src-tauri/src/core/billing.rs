//! Invoices and payments: the clinic's GST state decides the tax split; `OpenClinic`
//! checks the rules and takes the device's invoice number.

use super::*;
use vaidya_shared::api::{
    CancelInvoice, CatalogueItem, CatalogueItemPatch, CollectionsQuery, CollectionsReport,
    GroupCatalogue, GroupCatalogueItem, InvoiceSupplier, NewCatalogueItem, NewGroupCatalogueItem,
};
use vaidya_shared::gstr1::{Gstr1Query, Gstr1Report};
use vaidya_shared::rules::Validate;

impl Core {
    // -------------------------------------------------------------- billing

    pub async fn create_invoice(&self, new: NewInvoice) -> Result<Invoice, UiError> {
        let supplier = {
            let state = self.state.lock().await;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            // The clinic's own details (from the server or its cached copy) are printed on
            // the invoice and decide the document, the place of supply and whether GST may
            // be charged. Never a guess: a PC that has not yet loaded them does not bill.
            let details = clinic.clinic.as_ref().ok_or_else(|| {
                UiError::invalid(
                    "lines",
                    "This PC has not loaded the clinic's GST details yet; connect to the server once, then bill.",
                )
            })?;
            InvoiceSupplier::of(details)
        };
        self.with_clinic(move |c| Ok(c.issue_invoice(new, &supplier)?))
            .await
    }

    /// What the clinic collected per day and payment mode (online: the server computes it
    /// under RLS, so a branch sees only its own figures).
    /// The open clinic's group, branch by branch (online: computed by the server under RLS
    /// for the branches this member administers).
    pub async fn group_collections(
        &self,
        query: CollectionsQuery,
    ) -> Result<vaidya_shared::api::GroupCollectionsReport, UiError> {
        let query = query.validate(Utc::now().date_naive())?.into_inner();
        let (api, group) = self.group_api(Resource::Payment, Action::Read).await?;
        Ok(api.group_collections(group, &query).await?)
    }

    /// The server API and the open clinic's group, if this member may do `action` to
    /// `resource` in the open clinic (the server then covers the group's branches they
    /// administer).
    async fn group_api(
        &self,
        resource: Resource,
        action: Action,
    ) -> Result<(ServerApi, Uuid), UiError> {
        let (api, clinic) = self.api_for(resource, action).await?;
        let state = self.state.lock().await;
        let client = state.client.as_ref().ok_or_else(UiError::no_clinic)?;
        let group = client
            .memberships()
            .iter()
            .find(|m| m.clinic_id == clinic)
            .map(|m| m.group_id)
            .ok_or_else(UiError::no_clinic)?;
        Ok((api, group))
    }

    /// The group's catalogue over the branches this admin administers (online only).
    pub async fn group_catalogue(&self) -> Result<GroupCatalogue, UiError> {
        let (api, group) = self
            .group_api(Resource::CatalogueItem, Action::Update)
            .await?;
        Ok(api.group_catalogue(group).await?)
    }

    /// Adds an item to branches of the group, or copies one to more of them (online only;
    /// the open clinic's copy then arrives on this PC by its next pull, asked for at once).
    pub async fn add_group_catalogue_item(
        &self,
        new: NewGroupCatalogueItem,
    ) -> Result<GroupCatalogueItem, UiError> {
        let new = new.validate(Utc::now().date_naive())?.into_inner();
        let (api, group) = self
            .group_api(Resource::CatalogueItem, Action::Create)
            .await?;
        let item = api.add_group_catalogue_item(group, &new).await?;
        let _ = self.sync_now().await; // the open clinic's copy; the live stream would bring it too
        Ok(item)
    }

    /// Changes an item in every branch of the group that holds it (online only).
    pub async fn update_group_catalogue_item(
        &self,
        id: Uuid,
        patch: CatalogueItemPatch,
    ) -> Result<GroupCatalogueItem, UiError> {
        let patch = patch.validate(Utc::now().date_naive())?.into_inner();
        let (api, group) = self
            .group_api(Resource::CatalogueItem, Action::Update)
            .await?;
        let item = api.update_group_catalogue_item(group, id, &patch).await?;
        let _ = self.sync_now().await;
        Ok(item)
    }

    pub async fn collections_report(
        &self,
        query: CollectionsQuery,
    ) -> Result<CollectionsReport, UiError> {
        let query = query.validate(Utc::now().date_naive())?.into_inner();
        let (api, clinic) = self.api_for(Resource::Payment, Action::Read).await?;
        Ok(api.collections_report(clinic, &query).await?)
    }

    /// The clinic's GSTR-1 for a month or a quarter (online: computed by the server under
    /// RLS from the invoices it holds).
    pub async fn gstr1_report(&self, query: Gstr1Query) -> Result<Gstr1Report, UiError> {
        let query = query.validate(Utc::now().date_naive())?.into_inner();
        let (api, clinic) = self.api_for(Resource::Invoice, Action::Read).await?;
        Ok(api.gstr1_report(clinic, &query).await?)
    }

    pub async fn add_payment(
        &self,
        invoice_id: Uuid,
        payment: NewPayment,
    ) -> Result<Invoice, UiError> {
        self.with_clinic(move |c| Ok(c.take_payment(invoice_id, payment)?))
            .await
    }

    /// The clinic's catalogue (offline too).
    pub async fn list_catalogue(&self) -> Result<Vec<CatalogueItem>, UiError> {
        self.with_clinic(move |c| Ok(c.catalogue()?)).await
    }

    /// Adds an item to the catalogue (admins; offline too, synced like other clinic data).
    pub async fn add_catalogue_item(
        &self,
        item: NewCatalogueItem,
    ) -> Result<CatalogueItem, UiError> {
        self.with_clinic(move |c| Ok(c.add_catalogue_item(item)?))
            .await
    }

    /// Renames, reprices, retires or offers again a catalogue item (admins).
    pub async fn update_catalogue_item(
        &self,
        id: Uuid,
        patch: CatalogueItemPatch,
    ) -> Result<CatalogueItem, UiError> {
        self.with_clinic(move |c| Ok(c.update_catalogue_item(id, patch)?))
            .await
    }

    /// Issues a credit note against an invoice (offline too: numbered in this PC's series of
    /// the year, it syncs with its own date).
    pub async fn issue_credit_note(
        &self,
        invoice_id: Uuid,
        note: vaidya_shared::api::NewCreditNote,
    ) -> Result<Invoice, UiError> {
        self.with_clinic(move |c| Ok(c.issue_credit_note(invoice_id, note)?))
            .await
    }

    /// Cancels an issued invoice (offline too: the act syncs with its own time).
    pub async fn cancel_invoice(
        &self,
        invoice_id: Uuid,
        cancel: CancelInvoice,
    ) -> Result<Invoice, UiError> {
        self.with_clinic(move |c| Ok(c.cancel_invoice(invoice_id, cancel)?))
            .await
    }
}
