//! Online-only administration (members, the audit trail), the conflict inbox and printing.

use super::*;
use vaidya_shared::api::{Hub, Invitation, MemberAdded};
use vaidya_shared::rules::Validate;

impl Core {
    // -------------------------------------------------------------- admin (online only)

    /// The server API, the open clinic and the user's role there.
    pub(super) async fn online(&self) -> Result<(ServerApi, Uuid, Role), UiError> {
        let state = self.state.lock().await;
        let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
        let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
        Ok((
            client.api().clone(),
            clinic.clinic_id,
            clinic.membership.role,
        ))
    }

    /// The server API of whoever is signed in (no clinic needed).
    async fn signed_in_api(&self) -> Result<ServerApi, UiError> {
        let state = self.state.lock().await;
        let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
        Ok(client.api().clone())
    }

    /// The server API, if the permission table lets this member do `action` to `resource`.
    pub(super) async fn api_for(
        &self,
        resource: Resource,
        action: Action,
    ) -> Result<(ServerApi, Uuid), UiError> {
        let (api, clinic, role) = self.online().await?;
        rules::authorize(role, resource, action)?;
        Ok((api, clinic))
    }

    /// The member list from the server, kept in the partition for offline use.
    pub(super) async fn fetch_members(&self) -> Result<Vec<Member>, UiError> {
        let (api, clinic, _) = self.online().await?;
        let members = api.members(clinic).await?;
        let kept = members.clone();
        self.with_partition(move |p, _, _| Ok(p.set_cached_members(&kept)?))
            .await?;
        Ok(members)
    }

    /// Members and roles (online only: admins act on the server's current list).
    pub async fn list_members(&self) -> Result<Vec<Member>, UiError> {
        self.fetch_members().await
    }

    /// Which devices hold each member's data (online only; clinic admins).
    pub async fn member_devices(&self) -> Result<Vec<MemberDevice>, UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Delete).await?;
        Ok(api.member_devices(clinic).await?)
    }

    /// Adds a colleague of the clinic's group, or invites anyone else (they join by
    /// accepting when they next sign in).
    pub async fn add_member(&self, new: NewMember) -> Result<MemberAdded, UiError> {
        let new = new.validate(Utc::now().date_naive())?.into_inner();
        let (api, clinic) = self.api_for(Resource::Member, Action::Create).await?;
        let added = api.add_member(clinic, &new).await?;
        let _ = self.fetch_members().await; // keeps the cached list current; best effort
        Ok(added)
    }

    /// The clinic's open invitations (online only; clinic admins).
    pub async fn clinic_invitations(&self) -> Result<Vec<Invitation>, UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Create).await?;
        Ok(api.clinic_invitations(clinic).await?)
    }

    /// Withdraws one of the clinic's open invitations.
    pub async fn withdraw_invitation(&self, id: Uuid) -> Result<(), UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Delete).await?;
        Ok(api.withdraw_invitation(clinic, id).await?)
    }

    /// The signed-in user's open invitations (online only).
    pub async fn my_invitations(&self) -> Result<Vec<Invitation>, UiError> {
        let api = self.signed_in_api().await?;
        Ok(api.my_invitations().await?)
    }

    /// Accepts or declines an invitation; on acceptance the session learns the new clinic.
    pub async fn answer_invitation(&self, id: Uuid, accept: bool) -> Result<SessionView, UiError> {
        let api = self.signed_in_api().await?;
        if !accept {
            api.decline_invitation(id).await?;
            let state = self.state.lock().await;
            let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
            return Ok(view_of(&self.data_dir, client));
        }
        let me = api.accept_invitation(id).await?;
        let mut state = self.state.lock().await;
        let client = state.client.as_mut().ok_or_else(UiError::not_signed_in)?;
        client.set_memberships(me.memberships)?;
        Ok(view_of(&self.data_dir, client))
    }

    pub async fn set_member_role(&self, member: Uuid, role: Role) -> Result<Member, UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Update).await?;
        let member = api.update_member(clinic, member, role).await?;
        let _ = self.fetch_members().await;
        Ok(member)
    }

    /// Records a doctor's registration and qualifications (printed with their name); the
    /// member list kept for offline use is refreshed so prints carry it.
    pub async fn set_member_registration(
        &self,
        member: Uuid,
        registration: vaidya_shared::api::MedicalRegistration,
    ) -> Result<Member, UiError> {
        use vaidya_shared::rules::Validate as _;
        let registration = registration.validate(Utc::now().date_naive())?.into_inner();
        let (api, clinic) = self.api_for(Resource::Member, Action::Update).await?;
        let member = api
            .set_member_registration(clinic, member, &registration)
            .await?;
        let _ = self.fetch_members().await;
        Ok(member)
    }

    /// The clinic's hubs (online only; clinic admins): the machines its PCs sync through in
    /// an outage. They are registered on the hub machine (`vaidya-server hub register`).
    pub async fn list_hubs(&self) -> Result<Vec<Hub>, UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Update).await?;
        Ok(api.hubs(clinic).await?)
    }

    /// Revokes a hub (a lost or replaced machine): its every session stops at once.
    pub async fn revoke_hub(&self, hub: Uuid) -> Result<(), UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Delete).await?;
        Ok(api.revoke_hub(clinic, hub).await?)
    }

    pub async fn revoke_member(&self, member: Uuid) -> Result<(), UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Delete).await?;
        api.revoke_member(clinic, member).await?;
        let _ = self.fetch_members().await;
        Ok(())
    }

    /// One page of the audit trail (online only; the server allows clinic admins).
    pub async fn audit_trail(&self, mut query: AuditQuery) -> Result<Page<AuditEntry>, UiError> {
        let (api, clinic) = self.api_for(Resource::AuditLog, Action::Read).await?;
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if to < from {
                return Err(UiError::invalid("to", "The end must be after the start."));
            }
        }
        query.limit = Some(query.limit.unwrap_or(50).clamp(1, 200));
        query.offset = query.offset.map(|o| o.max(0));
        Ok(api.audit(clinic, &query).await?)
    }

    // -------------------------------------------------------------- conflicts, printing

    pub async fn list_conflicts(&self) -> Result<Vec<ConflictView>, UiError> {
        self.read_partition(|p, _, _| {
            Ok(p.open_conflicts()?
                .into_iter()
                .map(ConflictView::from)
                .collect())
        })
        .await
    }

    /// "Mark resolved" keeps the server's value (the device's value stays on record).
    /// Decides a conflict: the server's value stays, or this device's value is applied.
    pub async fn resolve_conflict(
        &self,
        id: Uuid,
        resolution: vaidya_shared::sync::Resolution,
    ) -> Result<(), UiError> {
        self.with_clinic(move |c| Ok(c.resolve_conflict(id, resolution)?))
            .await
    }

    /// Records a print in the local access log; it reaches the audit trail as `print`
    /// with the next push (offline prints too).
    pub async fn record_print(&self, entity: String, id: Uuid) -> Result<(), UiError> {
        let entity = match entity.as_str() {
            "invoice" | "receipt" => EntityKind::Invoice,
            "prescription" => EntityKind::Prescription,
            "encounter" => EntityKind::Encounter,
            _ => return Err(UiError::invalid("entity", "unknown print entity")),
        };
        self.read_partition(move |p, _, _| Ok(p.record_print(entity, id)?))
            .await
    }
}
