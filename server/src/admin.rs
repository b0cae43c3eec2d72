//! `vaidya-server admin`: bootstrap a real deployment (clinic groups, clinics, users,
//! memberships) over the owner connection. The owner may manage this tenancy structure
//! but, by policy, cannot read a single clinical row. Each action is audited.

use anyhow::{bail, Context, Result};
use tokio_postgres::Client;
use uuid::Uuid;
use vaidya_shared::api::Role;
use vaidya_shared::validate;

use crate::migrate::{connect, OWNER_ROLE};
use vaidya_shared::password;

/// An owner-role connection for administration.
pub struct Admin {
    client: Client,
}

impl Admin {
    /// Connect with an administrator URL and act as the owner role.
    pub async fn connect(admin_url: &str) -> Result<Admin> {
        let client = connect(admin_url).await?;
        client
            .batch_execute(&format!("SET ROLE {OWNER_ROLE}"))
            .await
            .context("switching to the owner role (run `vaidya-server migrate` first)")?;
        Ok(Admin { client })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn create_group(&self, name: &str) -> Result<Uuid> {
        let id = Uuid::now_v7();
        self.client
            .execute(
                "INSERT INTO vaidya.clinic_groups (id, name) VALUES ($1, $2)",
                &[&id, &name.trim()],
            )
            .await?;
        Ok(id)
    }

    pub async fn create_clinic(
        &self,
        group: Uuid,
        name: &str,
        state_code: &str,
        gstin: Option<&str>,
        address: &str,
    ) -> Result<Uuid> {
        if !validate::is_state_code(state_code) {
            bail!("state code must be a two-digit GST state code such as 27 (Maharashtra)");
        }
        if let Some(gstin) = gstin {
            vaidya_shared::gst::check_gstin(gstin, Some(state_code)).map_err(anyhow::Error::msg)?;
        }
        let id = Uuid::now_v7();
        self.client
            .execute(
                "INSERT INTO vaidya.clinics (id, group_id, name, state_code, gstin, address) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &group, &name.trim(), &state_code, &gstin, &address.trim()],
            )
            .await
            .context("creating the clinic (is the group id right and the GSTIN 15 characters?)")?;
        self.audit(id, "create", "clinic", &[id]).await?;
        Ok(id)
    }

    pub async fn create_user(
        &self,
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Uuid> {
        password::check_strength(password).map_err(anyhow::Error::msg)?;
        let email = email.trim().to_lowercase();
        if !email.contains('@') {
            bail!("{email} is not an email address");
        }
        let hash =
            password::hash(password).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
        let id = Uuid::now_v7();
        self.client
            .execute(
                "INSERT INTO vaidya.users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)",
                &[&id, &email, &display_name.trim(), &hash],
            )
            .await
            .with_context(|| format!("creating user {email} (does it exist already?)"))?;
        Ok(id)
    }

    pub async fn add_member(&self, clinic: Uuid, email: &str, role: Role) -> Result<Uuid> {
        let user: Uuid = self
            .client
            .query_opt(
                "SELECT id FROM vaidya.users WHERE email = $1",
                &[&email.trim().to_lowercase()],
            )
            .await?
            .with_context(|| format!("no user with email {email}"))?
            .get(0);
        let id: Uuid = self
            .client
            .query_one(
                "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (clinic_id, user_id) DO UPDATE SET role = EXCLUDED.role, revoked_at = NULL RETURNING id",
                &[&Uuid::now_v7(), &clinic, &user, &role.as_str()],
            )
            .await
            .context("adding the membership (is the clinic id right?)")?
            .get(0);
        self.audit(clinic, "create", "membership", &[id]).await?;
        Ok(id)
    }

    async fn audit(&self, clinic: Uuid, action: &str, entity: &str, ids: &[Uuid]) -> Result<()> {
        let none: Vec<Uuid> = Vec::new();
        self.client
            .execute(
                "SELECT vaidya.audit_append($1, $2, $3, $4, $5)",
                &[&clinic, &action, &entity, &ids, &none],
            )
            .await?;
        Ok(())
    }
}
