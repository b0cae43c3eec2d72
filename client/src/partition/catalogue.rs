//! The clinic's catalogue on the device: pulled like other clinic data so the invoice
//! editor offers it offline, and edited offline by the clinic's admins (name, price,
//! whether an item is offered; checked by `OpenClinic` against the permission table).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{CatalogueItem, CatalogueItemPatch, NewCatalogueItem};
use vaidya_shared::entity::kinds;
use vaidya_shared::gst::{self, TaxTreatment};
use vaidya_shared::rules::Valid;
use vaidya_shared::sync::Operation;

use super::cache::{Cached, CachedRow};
use super::edits::{field_changes, stored_now, to_object};
use super::outbox::{new_mutation, EntityKind};
use super::sql::{enum_at, id_blob, micros, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};

const COLUMNS: &str =
    "id, vaidya_clinic_id(), name, sac_hsn, treatment, gst_rate_bp, unit, price_paise, \
                       active, version, created_at, updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CatalogueItem> {
    Ok(CatalogueItem {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        name: row.get(2)?,
        sac_hsn: row.get(3)?,
        treatment: enum_at(row, 4, TaxTreatment::parse)?,
        gst_rate_bp: row.get(5)?,
        unit: row.get(6)?,
        price_paise: row.get(7)?,
        active: row.get(8)?,
        version: row.get(9)?,
        created_at: ts_at(row, 10)?,
        updated_at: ts_at(row, 11)?,
    })
}

fn upsert(conn: &Connection, i: &CatalogueItem) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO catalogue_items (id, name, sac_hsn, treatment, gst_rate_bp, unit,
                                      price_paise, active, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, sac_hsn = excluded.sac_hsn,
             treatment = excluded.treatment, gst_rate_bp = excluded.gst_rate_bp,
             unit = excluded.unit, price_paise = excluded.price_paise, active = excluded.active,
             version = excluded.version, created_at = excluded.created_at,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        id_blob(&i.id),
        i.name,
        i.sac_hsn,
        i.treatment.as_str(),
        i.gst_rate_bp,
        i.unit,
        i.price_paise,
        i.active,
        i.version,
        micros(&i.created_at),
        micros(&i.updated_at),
    ])?;
    Ok(())
}

impl ClinicPartition {
    /// The catalogue: offered items first, by name. Not patient data: no read is recorded.
    pub fn catalogue(&self) -> Result<Vec<CatalogueItem>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM catalogue_items ORDER BY active DESC, lower(name), id"
        ))?;
        let items = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
        Ok(items)
    }

    /// Adds an item offline (an admin's act; the rules were checked by the caller).
    pub fn create_catalogue_item(
        &mut self,
        new: Valid<NewCatalogueItem>,
    ) -> Result<CatalogueItem, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let now = stored_now();
        let item = CatalogueItem {
            id,
            clinic_id: self.clinic_id,
            name: new.name.clone(),
            sac_hsn: new.sac_hsn.clone(),
            treatment: new
                .treatment
                .unwrap_or_else(|| TaxTreatment::default_for(new.gst_rate_bp)),
            gst_rate_bp: new.gst_rate_bp,
            unit: new
                .unit
                .clone()
                .unwrap_or_else(|| gst::default_unit(&new.sac_hsn).to_owned()),
            price_paise: new.price_paise,
            active: true,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let mut m = new_mutation(EntityKind::CatalogueItem, id, Operation::Create, None);
        m.data = Some(serde_json::Value::Object(to_object(&NewCatalogueItem {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&item), None, &m)?;
        Ok(item)
    }

    /// Renames, reprices, retires or offers again an item offline.
    pub fn update_catalogue_item(
        &mut self,
        id: Uuid,
        patch: Valid<CatalogueItemPatch>,
    ) -> Result<CatalogueItem, PartitionError> {
        let patch = patch.into_inner();
        let before = self
            .peek::<kinds::CatalogueItem>(id)?
            .ok_or(PartitionError::NotFound {
                entity: "catalogue item",
                id,
            })?;
        let mut after = before.clone();
        if let Some(v) = patch.name {
            after.name = v;
        }
        if let Some(v) = patch.price_paise {
            after.price_paise = v;
        }
        if let Some(v) = patch.active {
            after.active = v;
        }
        let changes = field_changes::<kinds::CatalogueItem>(&before, &after)?;
        if changes.is_empty() {
            return Ok(before);
        }
        after.updated_at = stored_now();
        let mut m = new_mutation(
            EntityKind::CatalogueItem,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }
}

impl CachedRow for CatalogueItem {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::CatalogueItem {
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<CatalogueItem>, PartitionError> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM catalogue_items WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?)
    }
}
