//! The server half of the entity registry: how each kind is stored in PostgreSQL.
//!
//! Each entity's route module implements [`Store`] for its marker in
//! `vaidya_shared::entity::kinds` (its insert, patch, row mapping and children). Push and pull
//! reach them through `vaidya_shared::for_each_kind!`, so neither holds a per-entity list,
//! and a new kind does not compile until it is stored here.

use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::entity::{Entity, Stored};
use vaidya_shared::rules::Valid;
use vaidya_shared::sync::{EntityKind, FieldConflict};

use crate::http::{AppError, RequestTx};

/// How one kind is stored. Implemented in the kind's own module.
///
/// `async fn` without a `Send` bound is fine here: the trait is only called with concrete
/// kinds (through `for_each_kind!`), whose futures' auto traits the compiler sees.
#[allow(async_fn_in_trait)]
pub trait Store: Entity {
    /// The columns `from_row` reads, for `SELECT {COLUMNS} FROM vaidya.<server_table>`.
    const COLUMNS: &'static str;

    /// One row as the API shows it (children not yet attached). Unknown enum text is an
    /// error, never a silent default.
    fn from_row(r: &Row) -> Result<Self::Record, AppError>;

    /// Attaches children (addenda, items, lines and payments) with one query for the list.
    async fn with_children(
        _tx: &RequestTx,
        _clinic: Uuid,
        records: Vec<Self::Record>,
    ) -> Result<Vec<Self::Record>, AppError> {
        Ok(records)
    }

    /// Inserts a validated create (a child under `parent`); returns the stored record (for
    /// a child, its parent).
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        parent: Option<Uuid>,
        new: Valid<Self::New>,
    ) -> Result<Self::Record, AppError>;

    /// Applies a validated patch; returns the record as it now is.
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<Self::Patch>,
    ) -> Result<Self::Record, AppError>;

    /// What a device's write must be told about after it applied (an appointment that now
    /// overlaps another booking). `changed` names the fields an update set; `None` for a
    /// create. Nothing, for most kinds.
    async fn after_device_write(
        _tx: &RequestTx,
        _clinic: Uuid,
        _record: &Self::Record,
        _changed: Option<&[String]>,
    ) -> Result<Vec<FieldConflict>, AppError> {
        Ok(Vec::new())
    }
}

/// The parent id a child's create needs (`Mutation::parent_id`), or a clear refusal.
pub fn parent_of(kind: EntityKind, parent: Option<Uuid>) -> Result<Uuid, AppError> {
    parent.ok_or_else(|| {
        let parent_kind = kind.spec().parent.map_or("parent", |p| p.as_str());
        AppError::field(
            "parent_id",
            format!("A {} needs its {parent_kind} as parent_id.", kind.as_str()),
        )
    })
}

/// A record loaded with its tombstone flag.
pub struct Loaded<R> {
    pub record: R,
    pub deleted: bool,
}

/// Whole records of kind `E` by id, tombstones included, children attached. A kind without
/// a table of its own (a child) loads nothing: it travels inside its parent.
pub async fn load_many<E: Store>(
    tx: &RequestTx,
    clinic: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Loaded<E::Record>>, AppError> {
    let Some(table) = E::spec().server_table else {
        return Ok(Vec::new());
    };
    let rows = tx
        .query(
            &format!(
                "SELECT {}, deleted_at IS NOT NULL AS deleted FROM vaidya.{table}
                 WHERE clinic_id = $1 AND id = ANY($2)",
                E::COLUMNS
            ),
            &[&clinic, &ids],
        )
        .await?;
    let deleted: Vec<bool> = rows.iter().map(|r| r.get("deleted")).collect();
    let records = rows
        .iter()
        .map(E::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let records = E::with_children(tx, clinic, records).await?;
    // `with_children` keeps the order and the count of the list it is given.
    Ok(records
        .into_iter()
        .zip(deleted)
        .map(|(record, deleted)| Loaded { record, deleted })
        .collect())
}

/// One record of kind `E` as JSON with its tombstone flag, or `None` when it is not here.
pub async fn load_json<E: Store>(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
) -> Result<Option<(Value, bool, Option<Uuid>)>, AppError> {
    let Some(loaded) = load_many::<E>(tx, clinic, &[id]).await?.pop() else {
        return Ok(None);
    };
    let patient = loaded.record.patient_id();
    Ok(Some((to_json(&loaded.record)?, loaded.deleted, patient)))
}

/// Entities are plain data; a failure here is a server fault.
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}
