//! Cached patients and the front desk's search as you type (FTS5 with prefix indexes over
//! name, phone, patient number and ABHA number; the index follows the table by triggers).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{NewPatient, Patient, Sex};
use vaidya_shared::rules::duplicates::LikelyDuplicate;

use super::cache::{Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::EntityKind;
use super::sql::{date, enum_at, id_blob, micros, opt_date_at, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;
use vaidya_shared::search;

/// Most results a search returns, whatever the caller asks for.
pub const MAX_SEARCH_RESULTS: i64 = 200;
/// A search orders at most this many matches, taken as the index yields them.
const CANDIDATES: i64 = search::SEARCH_CANDIDATES;

const COLUMNS: &str =
    "id, vaidya_clinic_id(), patient_number, name, sex, date_of_birth, phone, address, \
                       abha_number, version, created_at, updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Patient> {
    Ok(Patient {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_number: row.get(2)?,
        name: row.get(3)?,
        sex: enum_at(row, 4, Sex::parse)?,
        date_of_birth: opt_date_at(row, 5)?,
        phone: row.get(6)?,
        address: row.get(7)?,
        abha_number: row.get(8)?,
        version: row.get(9)?,
        created_at: ts_at(row, 10)?,
        updated_at: ts_at(row, 11)?,
    })
}

pub(crate) fn upsert(conn: &Connection, p: &Patient) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO patients (id, patient_number, name, sex, date_of_birth, phone,
                               address, abha_number, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET
             patient_number = excluded.patient_number,
             name = excluded.name, sex = excluded.sex, date_of_birth = excluded.date_of_birth,
             phone = excluded.phone, address = excluded.address,
             abha_number = excluded.abha_number, version = excluded.version,
             created_at = excluded.created_at, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id_blob(&p.id),
        p.patient_number,
        p.name,
        p.sex.as_str(),
        p.date_of_birth.as_ref().map(date),
        p.phone,
        p.address,
        p.abha_number,
        p.version,
        micros(&p.created_at),
        micros(&p.updated_at),
    ])?;
    Ok(())
}

/// Turns whatever was typed into a safe FTS5 query of the prefix terms `search::query_terms`
/// finds, or `None` when nothing searchable is left. Each term is cut where the index's
/// tokenizer cuts words ([`is_word_char`]), so "o'brien" asks for words starting "o" and
/// "brien", as the server's search does: the index keeps no word positions (schema 25), so
/// a quoted run of several words, a phrase, cannot be asked. Every piece is a quoted
/// string (so `AND`, `NEAR(`, `col:` and `*` are plain text to FTS5) followed by `*`.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = search::query_terms(input)
        .iter()
        .flat_map(|term| {
            term.split(|c: char| !is_word_char(c))
                .filter(|piece| !piece.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .take(search::MAX_QUERY_TERMS)
        .map(|piece| format!("\"{}\"*", piece.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// A character the search index's tokenizer keeps inside a word: its `categories 'L* N* Co
/// M*'` (schema.rs). Marks matter: a Devanagari virama joins a conjunct, it does not end a
/// word.
fn is_word_char(c: char) -> bool {
    use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number | GeneralCategoryGroup::Mark
    ) || c.general_category() == GeneralCategory::PrivateUse
}

/// Patients with the same phone or ABHA number (the candidates the shared duplicate rule
/// judges), through the indexes on those two; no index by patient number is kept.
fn duplicates_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM patients
         WHERE (phone = ?1 AND ?1 IS NOT NULL) OR (abha_number = ?2 AND ?2 IS NOT NULL)
         ORDER BY patient_number LIMIT 50"
    )
}

impl ClinicPartition {
    /// Every cached patient by id (exports and sync checks), recorded as a list read.
    pub fn all_patients(&self) -> Result<Vec<Patient>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM patients ORDER BY id"))?;
        let patients: Vec<Patient> = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
        let ids: Vec<Uuid> = patients.iter().map(|p| p.id).collect();
        self.record_access(ReadAction::List, EntityKind::Patient, &ids, &ids)?;
        Ok(patients)
    }

    /// The clinic's patients here who are probably `new` (`rules::duplicates`), with why,
    /// best reason first: what the front desk sees before registering, offline too.
    /// Candidates share the mobile or ABHA number (both indexed); the shown ones are
    /// recorded as a list read.
    pub fn likely_duplicates(
        &self,
        new: &NewPatient,
    ) -> Result<Vec<LikelyDuplicate>, PartitionError> {
        use vaidya_shared::rules::duplicates::{likely_duplicate, PatientIdentity};
        if new.phone.is_none() && new.abha_number.is_none() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(&duplicates_sql())?;
        let candidates: Vec<Patient> = stmt
            .query_map(params![new.phone, new.abha_number], from_row)?
            .collect::<Result<_, _>>()?;
        let identity = PatientIdentity {
            name: &new.name,
            date_of_birth: new.date_of_birth,
            phone: new.phone.as_deref(),
            abha_number: new.abha_number.as_deref(),
        };
        let mut found: Vec<LikelyDuplicate> = candidates
            .into_iter()
            .filter(|p| Some(p.id) != new.id)
            .filter_map(|patient| {
                let reason = likely_duplicate(
                    &identity,
                    &PatientIdentity {
                        name: &patient.name,
                        date_of_birth: patient.date_of_birth,
                        phone: patient.phone.as_deref(),
                        abha_number: patient.abha_number.as_deref(),
                    },
                )?;
                Some(LikelyDuplicate { patient, reason })
            })
            .collect();
        found.sort_by_key(|d| (d.reason, d.patient.patient_number));
        let ids: Vec<Uuid> = found.iter().map(|d| d.patient.id).collect();
        if !ids.is_empty() {
            self.record_access(ReadAction::List, EntityKind::Patient, &ids, &ids)?;
        }
        Ok(found)
    }

    /// One patient, recorded as a read for the audit trail when found.
    pub fn get_patient(&self, id: Uuid) -> Result<Option<Patient>, PartitionError> {
        self.read::<kinds::Patient>(id)
    }

    /// Search as you type: every word of `query` is a prefix of a word of the name, or of
    /// the phone, patient number or ABHA number; in the server's order for its search (by
    /// name, then id). Never fails on odd input; a query with nothing searchable returns no
    /// patients.
    /// The patients returned are recorded as a list read for the audit trail.
    pub fn search_patients(&self, query: &str, limit: i64) -> Result<Vec<Patient>, PartitionError> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
        // The first keystrokes ("a") match a large share of the clinic, so a search orders
        // at most CANDIDATES matches, taken as FTS5 yields them (it stops there): its cost
        // never grows with the clinic. Once the matches are fewer (a name's first letters,
        // a few digits) the page is exactly the server's. There is no relevance ranking:
        // every match has each typed word as a word's prefix, the server lists by name,
        // and bm25 over a few hundred matches read and re-tokenized each row (the search's
        // slowest keystrokes at 1 M patients, docs/benchmarks.md).
        let sql = format!(
            "SELECT {COLUMNS}
             FROM (SELECT rowid AS hit FROM patients_fts WHERE patients_fts MATCH ?1
                   LIMIT {CANDIDATES})
             JOIN patients ON patients.pk = hit
             ORDER BY lower(name), id LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let patients: Vec<Patient> = stmt
            .query_map(params![fts, limit], from_row)?
            .collect::<Result<_, _>>()?;
        let ids: Vec<Uuid> = patients.iter().map(|p| p.id).collect();
        self.record_access(ReadAction::List, EntityKind::Patient, &ids, &ids)?;
        Ok(patients)
    }
}

impl CachedRow for Patient {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::Patient {
    /// The cached row without recording a read: for edits of a row the user has open.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Patient>, PartitionError> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM patients WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registration's duplicate check reads the phone and ABHA indexes, not every patient.
    #[test]
    fn the_duplicate_check_reads_the_phone_and_abha_indexes() {
        let conn = crate::partition::schema::migrated_test_db();
        let plan = crate::partition::schema::query_plan(&conn, &duplicates_sql());
        assert!(plan.contains("USING INDEX patients_phone"), "{plan}");
        assert!(plan.contains("USING INDEX patients_abha"), "{plan}");
    }

    #[test]
    fn queries_become_quoted_prefix_terms() {
        assert_eq!(fts_query("ram sha").as_deref(), Some(r#""ram"* "sha"*"#));
        assert_eq!(fts_query(r#"a"b"#).as_deref(), Some(r#""a"* "b"*"#));
        assert_eq!(
            fts_query("NEAR(x y)").as_deref(),
            Some(r#""NEAR"* "x"* "y"*"#)
        );
        assert_eq!(fts_query("nul\0byte").as_deref(), Some(r#""nul"* "byte"*"#));
        assert_eq!(fts_query("o'brien").as_deref(), Some(r#""o"* "brien"*"#));
        // A conjunct stays one word: the virama (a mark) and the vowel sign join it.
        assert_eq!(fts_query("श्रीनिवास").as_deref(), Some(r#""श्रीनिवास"*"#));
        assert_eq!(fts_query("José").as_deref(), Some(r#""José"*"#));
        assert_eq!(
            fts_query("+91 98450-12345").as_deref(),
            Some(r#""919845012345"*"#)
        );
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query(r#"" * ( ) :"#), None);
        assert_eq!(fts_query(""), None);
    }
}
