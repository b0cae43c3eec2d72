//! Changes the server rejected for good: described for a person, corrected and sent again,
//! or discarded (audited, and a discarded device invoice number kept as cancelled).
//!
//! A rejected entry is never pushed again as it is: the server stored its result under the
//! mutation id, so the same id would only get the same rejection back. A correction
//! therefore gets a NEW id, keeps its place in the outbox (`seq`) and goes back to pending,
//! with the cached row changed to match, all in one SQLite transaction.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;
use vaidya_shared::api::CancelledInvoiceNumber;
use vaidya_shared::entity::{kinds, Entity, Updates};
use vaidya_shared::for_each_kind;
use vaidya_shared::rules::Validate;
use vaidya_shared::ApiError;

use super::cache::{add_refetch, remove_row, table, Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::{
    cache_target, entry_from_row, payload_columns, unseal, EntityKind, Mutation, Operation,
    OutboxEntry, COLUMNS,
};
use super::sql::{now, opt_uuid_at, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};

/// One value of a rejected change that a person may correct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditableField {
    /// The field's name as in the entity's JSON (`phone`, `starts_at`, `place_of_supply`).
    pub name: String,
    /// The value the change carries now.
    pub value: Value,
}

/// A rejected change, described for a person (serialized as the Unsent changes screen
/// reads it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnsentChange {
    pub mutation_id: Uuid,
    /// Position in the outbox (kept when the change is corrected and sent again).
    pub seq: i64,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub op: Operation,
    pub parent_id: Option<Uuid>,
    /// The patient the change concerns, when it can be told (from the change or the cache).
    pub patient_id: Option<Uuid>,
    pub patient_name: Option<String>,
    /// 0 while the patient was never synced (the server numbers patients).
    pub patient_number: Option<i64>,
    /// For appointments: when, and with whom.
    pub starts_at: Option<DateTime<Utc>>,
    pub doctor_id: Option<Uuid>,
    /// For invoices and their payments: the printed number (`D1a2b3c/000005`).
    pub invoice_number: Option<String>,
    /// The server's error code (`invalid_field`, `forbidden`, `not_found` …).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The field the server blamed, when it named one.
    pub field: Option<String>,
    pub made_at: DateTime<Utc>,
    /// Whose change it is (its signing author; `None` before changes were signed) and
    /// their name from the member list kept for offline use.
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub attempts: i64,
    /// What may be corrected: a create's scalar data fields, an update's new values.
    pub editable: Vec<EditableField>,
}

/// What discarding a change did.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscardOutcome {
    /// Whether there was such a rejected change.
    pub discarded: bool,
    /// A device invoice number that is now recorded as cancelled.
    pub voided_invoice_number: Option<String>,
}

/// A number of this device's invoice series whose invoice was discarded before the server
/// accepted it. Kept so the series shows why a number is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct VoidedInvoiceNumber {
    pub series: String,
    pub number: i64,
    /// The printed form, as on the invoice (`{series}/{number:06}`).
    pub invoice_number: String,
    pub invoice_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub voided_at: DateTime<Utc>,
    /// The server's reason for refusing the invoice.
    pub reason: Option<String>,
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Fields of a create a correction may not touch: identities and the invoice's place in
/// its series. (An update's correctable fields are its kind's `EDITABLE` list.)
fn is_fixed(name: &str) -> bool {
    matches!(name, "id" | "series" | "number" | "base_version") || name.ends_with("_id")
}

/// The values of a change a person may correct.
pub fn editable_fields(m: &Mutation) -> Vec<EditableField> {
    let field = |name: &String, value: &Value| EditableField {
        name: name.clone(),
        value: value.clone(),
    };
    match m.op {
        Operation::Create => match &m.data {
            Some(Value::Object(data)) => data
                .iter()
                .filter(|(k, v)| !is_fixed(k) && is_scalar(v))
                .map(|(k, v)| field(k, v))
                .collect(),
            _ => Vec::new(),
        },
        Operation::Update => {
            // Exactly the fields the kind's patch sets (never `sign` or `resolution`).
            let editable = for_each_kind!(m.entity, E => E::EDITABLE);
            m.changes
                .iter()
                .filter_map(|(k, c)| Some((k, c.get("value")?)))
                .filter(|(k, v)| editable.contains(&k.as_str()) && is_scalar(v))
                .map(|(k, v)| field(k, v))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The body through the shared rules (`vaidya_shared::rules`): parsed, validated and
/// normalised as the server will take it.
fn rules<T: DeserializeOwned + Serialize + Validate>(value: Value) -> Result<Value, ApiError> {
    // A value of the wrong shape (a sex that does not exist, a date that is not ISO) names
    // no field of its own here: the caller blames the value it just corrected.
    let shape = |e: serde_json::Error| ApiError {
        code: vaidya_shared::ErrorCode::InvalidField,
        message: format!("This value does not fit: {e}"),
        field: None,
    };
    let parsed: T = serde_json::from_value(value).map_err(shape)?;
    let valid = parsed.validate(Utc::now().date_naive())?;
    serde_json::to_value(&*valid).map_err(shape)
}

/// The corrected change as the shared rules see it: the body a create carries, or a patch
/// holding the update's new values. Returns the normalised body, or the refusal naming its
/// field — the same verdict the server gives at the next push.
fn check_rules(m: &Mutation) -> Result<Value, ApiError> {
    let spec = m.entity.spec();
    match m.op {
        Operation::Create => {
            let data = m.data.clone().unwrap_or(Value::Null);
            if !spec.creatable {
                return Ok(data);
            }
            for_each_kind!(m.entity, E => rules::<<E as Entity>::New>(data))
        }
        Operation::Update => {
            let editable = for_each_kind!(m.entity, E => E::EDITABLE);
            let values: Map<String, Value> = m
                .changes
                .iter()
                .filter(|(k, _)| editable.contains(&k.as_str()))
                .filter_map(|(k, c)| Some((k.clone(), c.get("value")?.clone())))
                .collect();
            let values = Value::Object(values);
            if spec.updates != Updates::MergeFields {
                return Ok(values);
            }
            for_each_kind!(m.entity, E => rules::<<E as Entity>::Patch>(values))
        }
        Operation::Delete => Ok(Value::Null),
    }
}

/// Applies corrections to a mutation: validated, normalised, and only to editable fields.
/// The first bad value is the error, naming its field.
pub fn apply_corrections(
    m: &Mutation,
    corrections: &Map<String, Value>,
) -> Result<Mutation, PartitionError> {
    let editable = editable_fields(m);
    let mut out = m.clone();
    for (name, value) in corrections {
        let invalid = |message: String| PartitionError::InvalidValue {
            field: name.clone(),
            message,
        };
        let Some(current) = editable.iter().find(|f| &f.name == name) else {
            return Err(invalid("This value cannot be corrected here.".to_owned()));
        };
        // A number stays a number, a text a text (null clears an optional value).
        let same_kind = match (&current.value, value) {
            (_, Value::Null) | (Value::Null, _) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        };
        if !same_kind || !is_scalar(value) {
            return Err(invalid("This value has the wrong kind.".to_owned()));
        }
        let set = |out: &mut Mutation, value: Value| match (&mut out.data, m.op) {
            (Some(Value::Object(data)), Operation::Create) => {
                data.insert(name.clone(), value);
            }
            _ => {
                if let Some(Value::Object(change)) = out.changes.get_mut(name) {
                    change.insert("value".to_owned(), value);
                }
            }
        };
        set(&mut out, value.clone());
        // Checked field by field with the shared rules, so the error names the value that
        // breaks them; the stored value is the rules' normalised one (+91 phones …).
        let normalised = check_rules(&out).map_err(|e| PartitionError::InvalidValue {
            field: e.field.clone().unwrap_or_else(|| name.clone()),
            message: e.message,
        })?;
        if let Some(v) = normalised.get(name) {
            set(&mut out, v.clone());
        }
    }
    Ok(out)
}

/// Rolls back an open transaction unless it was committed, whatever way the work ends.
struct Immediate<'a> {
    conn: &'a rusqlite::Connection,
    done: bool,
}

impl<'a> Immediate<'a> {
    fn begin(conn: &'a rusqlite::Connection) -> Result<Immediate<'a>, PartitionError> {
        // IMMEDIATE takes the write lock up front (the sync connection waits on it).
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Immediate { conn, done: false })
    }

    fn commit(mut self) -> Result<(), PartitionError> {
        self.conn.execute_batch("COMMIT")?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl ClinicPartition {
    /// The rejected change with this mutation id, if there is one.
    /// A clinician's sealed change is `ClinicalLocked` to a session without the key.
    pub fn rejected_entry(&self, mutation_id: Uuid) -> Result<Option<OutboxEntry>, PartitionError> {
        let Some(mut entry) = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM outbox WHERE mutation_id = ?1 AND state = 'rejected'"
                ),
                [mutation_id.to_string()],
                entry_from_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        unseal(&mut entry, self.clinical.as_ref())?;
        if entry.is_sealed() {
            return Err(PartitionError::ClinicalLocked);
        }
        Ok(Some(entry))
    }

    /// The cached entity a change is about, as JSON, without recording a read.
    fn cached_entity_json(
        &self,
        entity: EntityKind,
        id: Uuid,
    ) -> Result<Option<Value>, PartitionError> {
        let json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| PartitionError::InvalidRow(e.to_string()))
        };
        if table(entity).is_none() {
            return Ok(None);
        }
        let row =
            for_each_kind!(entity, E => self.peek::<E>(id)?.map(|r| serde_json::to_value(&r)));
        row.map(json).transpose()
    }

    /// Writes corrected values into the cached row the change made (or into the child it
    /// added to its parent: an addendum, a payment). A row that is not cached is left to
    /// the pull that follows the server's acceptance.
    fn overlay_cached(
        &self,
        m: &Mutation,
        values: &Map<String, Value>,
    ) -> Result<(), PartitionError> {
        let (target, target_id) = cache_target(m);
        let Some(mut row) = self.cached_entity_json(target, target_id)? else {
            return Ok(());
        };
        let children = m.entity.spec().child_list;
        let id = Value::String(m.entity_id.to_string());
        let object = match children {
            Some(key) => row
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .and_then(|list| list.iter_mut().find(|c| c.get("id") == Some(&id)))
                .and_then(Value::as_object_mut),
            None => row.as_object_mut(),
        };
        let Some(object) = object else {
            return Ok(());
        };
        for (k, v) in values {
            if object.contains_key(k) {
                object.insert(k.clone(), v.clone());
            }
        }
        if table(target).is_some() {
            for_each_kind!(target, E => rewrite_cached::<E>(&self.conn, row))?;
        }
        Ok(())
    }

    /// The patient a change concerns: named by the change, or by the cached row it changes.
    fn patient_of(&self, m: &Mutation) -> Result<Option<Uuid>, PartitionError> {
        if m.entity == EntityKind::Patient {
            return Ok(Some(m.entity_id));
        }
        let from_data = m
            .data
            .as_ref()
            .and_then(|d| d.get("patient_id"))
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        if from_data.is_some() {
            return Ok(from_data);
        }
        let (target, id) = cache_target(m);
        Ok(self
            .cached_entity_json(target, id)?
            .as_ref()
            .and_then(|row| row.get("patient_id"))
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok()))
    }

    fn describe(&self, entry: OutboxEntry) -> Result<UnsentChange, PartitionError> {
        let m = &entry.mutation;
        let patient_id = self.patient_of(m)?;
        let patient = match patient_id {
            Some(id) => self.peek::<kinds::Patient>(id)?,
            None => None,
        };
        // A patient created offline and then rejected may be known only from its create.
        let created_name = (m.entity == EntityKind::Patient)
            .then(|| m.data.as_ref()?.get("name")?.as_str().map(str::to_owned))
            .flatten();
        let (target, target_id) = cache_target(m);
        let cached = self.cached_entity_json(target, target_id)?;
        let field_of = |key: &str| -> Option<Value> {
            m.changes
                .get(key)
                .and_then(|c| c.get("value"))
                .or_else(|| m.data.as_ref().and_then(|d| d.get(key)))
                .or_else(|| cached.as_ref().and_then(|c| c.get(key)))
                .cloned()
        };
        let text_of = |key: &str| field_of(key).and_then(|v| v.as_str().map(str::to_owned));
        let (starts_at, doctor_id) = if m.entity == EntityKind::Appointment {
            (
                text_of("starts_at")
                    .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                    .map(|t| t.with_timezone(&Utc)),
                text_of("doctor_id").and_then(|s| Uuid::parse_str(&s).ok()),
            )
        } else {
            (None, None)
        };
        let invoice_number = match target {
            EntityKind::Invoice => text_of("invoice_number").or_else(|| {
                let series = text_of("series")?;
                let number = field_of("number")?.as_i64()?;
                Some(vaidya_shared::gst::invoice_number(&series, number))
            }),
            _ => None,
        };
        Ok(UnsentChange {
            mutation_id: m.mutation_id,
            seq: entry.seq,
            entity: m.entity,
            entity_id: m.entity_id,
            op: m.op,
            parent_id: m.parent_id,
            patient_id,
            patient_name: patient.as_ref().map(|p| p.name.clone()).or(created_name),
            patient_number: patient.as_ref().map(|p| p.patient_number),
            starts_at,
            doctor_id,
            invoice_number,
            code: entry.error_code.clone(),
            message: entry.last_error.clone(),
            field: entry.error_field.clone(),
            made_at: m.made_at,
            author_id: m.author.as_ref().map(|a| a.user_id),
            author_name: match &m.author {
                Some(a) => self.member_name(a.user_id)?,
                None => None,
            },
            attempts: entry.attempts,
            editable: editable_fields(m),
        })
    }

    /// The changes the server rejected, oldest first, described for a person. Showing
    /// them names patients, so the patients shown are recorded as a list read.
    pub fn rejected_changes(&self) -> Result<Vec<UnsentChange>, PartitionError> {
        let entries: Vec<OutboxEntry> = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE state = 'rejected' ORDER BY seq"
            ))?;
            let rows = stmt.query_map([], entry_from_row)?;
            let mut entries: Vec<OutboxEntry> = rows.collect::<Result<_, _>>()?;
            for entry in &mut entries {
                unseal(entry, self.clinical.as_ref())?;
            }
            // A clinician's sealed change is theirs (or a colleague clinician's) to fix.
            entries.retain(|e| !e.is_sealed());
            entries
        };
        let changes: Vec<UnsentChange> = entries
            .into_iter()
            .map(|e| self.describe(e))
            .collect::<Result<_, _>>()?;
        let patients: Vec<Uuid> = changes.iter().filter_map(|c| c.patient_id).collect();
        self.record_access(ReadAction::List, EntityKind::Patient, &patients, &patients)?;
        Ok(changes)
    }

    /// Corrects a rejected change and queues it again: a NEW mutation id (the server keeps
    /// the old id's rejection), the same place in the outbox, pending, and the cached row
    /// changed to match, in ONE transaction. `corrections` maps editable fields to new
    /// values (may be empty: e.g. a change refused for a role the user has again).
    pub fn resend_change(
        &mut self,
        mutation_id: Uuid,
        corrections: &Map<String, Value>,
    ) -> Result<OutboxEntry, PartitionError> {
        let tx = Immediate::begin(&self.conn)?;
        let entry = self
            .rejected_entry(mutation_id)?
            .ok_or(PartitionError::NotFound {
                entity: "rejected change",
                id: mutation_id,
            })?;
        let mut corrected = apply_corrections(&entry.mutation, corrections)?;
        corrected.mutation_id = Uuid::now_v7();
        // The correction is the corrector's work now: signed by them.
        corrected.author = None;
        self.sign(&mut corrected);
        let values: Map<String, Value> = editable_fields(&corrected)
            .into_iter()
            .map(|f| (f.name, f.value))
            .collect();
        self.overlay_cached(&corrected, &values)?;
        let (data, changes, sealed) = payload_columns(&corrected, self.clinical.as_ref())?;
        self.conn.execute(
            "UPDATE outbox SET mutation_id = ?2, data = ?3, changes = ?4, state = 'pending',
                               attempts = 0, error_code = NULL, last_error = NULL,
                               error_field = NULL, conflict_id = NULL, author = ?5, sealed = ?6,
                               relayed_at = NULL, relayed_by = NULL
             WHERE mutation_id = ?1",
            params![
                mutation_id.to_string(),
                corrected.mutation_id.to_string(),
                data,
                changes,
                corrected
                    .author
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| PartitionError::InvalidMutation(e.to_string()))?,
                sealed,
            ],
        )?;
        let mut stored = self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM outbox WHERE mutation_id = ?1"),
            [corrected.mutation_id.to_string()],
            entry_from_row,
        )?;
        unseal(&mut stored, self.clinical.as_ref())?;
        tx.commit()?;
        Ok(stored)
    }

    /// Discards a rejected change in ONE transaction: the entry leaves the outbox, what it
    /// created leaves the cache at once, the entity is fetched again (the server's state
    /// comes back), a `discard` access is queued for the server's audit trail, and a
    /// device invoice number it used is recorded as cancelled.
    pub fn discard_change(&mut self, mutation_id: Uuid) -> Result<DiscardOutcome, PartitionError> {
        let tx = Immediate::begin(&self.conn)?;
        let Some(entry) = self.rejected_entry(mutation_id)? else {
            return Ok(DiscardOutcome {
                discarded: false,
                voided_invoice_number: None,
            });
        };
        let m = &entry.mutation;
        let patient = self.patient_of(m)?;
        let (target, target_id) = cache_target(m);
        let mut voided = None;
        if m.entity == EntityKind::Invoice && m.op == Operation::Create {
            let data = m.data.as_ref();
            let series = data.and_then(|d| d.get("series")).and_then(Value::as_str);
            let number = data.and_then(|d| d.get("number")).and_then(Value::as_i64);
            // Only this device's own series has numbers the device took (`D` + device id);
            // the main series is numbered by the server, which never issued this one.
            if let (Some(series), Some(number)) = (series.filter(|s| s.starts_with('D')), number) {
                let reason = match (&entry.error_code, &entry.last_error) {
                    (Some(code), Some(msg)) => Some(format!("{code}: {msg}")),
                    (code, msg) => code.clone().or(msg.clone()),
                };
                self.conn.execute(
                    "INSERT INTO voided_invoice_numbers
                         (series, number, invoice_id, patient_id, voided_at, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (series, number) DO NOTHING",
                    params![
                        series,
                        number,
                        m.entity_id.to_string(),
                        patient.map(|p| p.to_string()),
                        now(),
                        reason,
                    ],
                )?;
                voided = Some(vaidya_shared::gst::invoice_number(series, number));
            }
        }
        self.conn.execute(
            "DELETE FROM outbox WHERE mutation_id = ?1",
            [mutation_id.to_string()],
        )?;
        // What the change created is not on the server: it leaves this PC now rather than
        // at the next sync (the refetch below would also remove it, but only online).
        if m.op == Operation::Create {
            match m.entity {
                EntityKind::Payment => {
                    self.conn.execute(
                        "UPDATE invoices SET paid_paise = paid_paise - coalesce(
                             (SELECT amount_paise FROM invoice_payments WHERE id = ?1), 0)
                         WHERE id = (SELECT invoice_id FROM invoice_payments WHERE id = ?1)",
                        [super::sql::id_blob(&m.entity_id)],
                    )?;
                    self.conn.execute(
                        "DELETE FROM invoice_payments WHERE id = ?1",
                        [super::sql::id_blob(&m.entity_id)],
                    )?;
                }
                EntityKind::Addendum => {
                    self.conn.execute(
                        "DELETE FROM encounter_addenda WHERE id = ?1",
                        [super::sql::id_blob(&m.entity_id)],
                    )?;
                }
                _ => {
                    remove_row(&self.conn, m.entity, m.entity_id)?;
                }
            }
        }
        add_refetch(&self.conn, target, target_id)?;
        self.record_access(
            ReadAction::Discard,
            m.entity,
            &[m.entity_id],
            &patient.into_iter().collect::<Vec<_>>(),
        )?;
        tx.commit()?;
        Ok(DiscardOutcome {
            discarded: true,
            voided_invoice_number: voided,
        })
    }

    /// Numbers of this device's invoice series whose invoices were discarded, by number.
    pub fn voided_invoice_numbers(&self) -> Result<Vec<VoidedInvoiceNumber>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT series, number, invoice_id, patient_id, voided_at, reason
             FROM voided_invoice_numbers ORDER BY series, number",
        )?;
        let rows = stmt.query_map([], |row| {
            let series: String = row.get(0)?;
            let number: i64 = row.get(1)?;
            Ok(VoidedInvoiceNumber {
                invoice_number: vaidya_shared::gst::invoice_number(&series, number),
                series,
                number,
                invoice_id: uuid_at(row, 2)?,
                patient_id: opt_uuid_at(row, 3)?,
                voided_at: ts_at(row, 4)?,
                reason: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Cancelled numbers the server does not have yet (sent with the next push), oldest
    /// first.
    pub fn cancelled_numbers_to_upload(
        &self,
        limit: i64,
    ) -> Result<Vec<CancelledInvoiceNumber>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT series, number, invoice_id, reason, voided_at FROM voided_invoice_numbers
             WHERE uploaded = 0 ORDER BY voided_at, series, number LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |row| {
            Ok(CancelledInvoiceNumber {
                series: row.get(0)?,
                number: row.get(1)?,
                invoice_id: uuid_at(row, 2)?,
                reason: row.get(3)?,
                cancelled_at: ts_at(row, 4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks cancelled numbers as recorded by the server (after a push that carried them
    /// was answered).
    pub fn mark_cancelled_numbers_uploaded(
        &mut self,
        numbers: &[CancelledInvoiceNumber],
    ) -> Result<(), PartitionError> {
        let tx = Immediate::begin(&self.conn)?;
        for n in numbers {
            self.conn.execute(
                "UPDATE voided_invoice_numbers SET uploaded = 1 WHERE series = ?1 AND number = ?2",
                params![n.series, n.number],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Writes a corrected cached record of kind `E` back, with what it derives from the
/// corrected values recomputed.
fn rewrite_cached<E: Cached>(
    conn: &rusqlite::Connection,
    row: Value,
) -> Result<(), PartitionError> {
    let mut record: E::Record =
        serde_json::from_value(row).map_err(|e| PartitionError::InvalidMutation(e.to_string()))?;
    record.recompute();
    record.upsert(conn)?;
    Ok(())
}
