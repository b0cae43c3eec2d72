//! The registry of synced entities: each kind described once, for every tier.
//!
//! Two halves:
//! - [`EntitySpec`] (from [`EntityKind::spec`]): the facts as data — where its rows live, its
//!   REST collection, its parent, which operations a device may push and how an update is
//!   applied. Table and route lists elsewhere are read from here, never restated.
//! - [`Entity`]: the types as types — one marker per kind (in [`kinds`]) naming its record,
//!   its create body and its patch. [`crate::for_each_kind!`] turns a run-time
//!   [`EntityKind`] into the marker, with one exhaustive `match` and no `_ =>` arm, so each
//!   tier's dispatch (push, pull, the device cache, the Unsent changes screen) is written once
//!   as generic code and a new kind is a compile error until every tier implements it.
//!
//! The recipe for adding an entity is in ARCHITECTURE.md ("Adding an entity").

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api;
use crate::rules::{Resource, Valid, Validate};
use crate::sync::{ConflictRecord, EntityKind, ResolveConflict};
use crate::ApiError;

/// How an update pushed by a device is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updates {
    /// Field by field against the base the user saw (see `sync::FieldChange`).
    MergeFields,
    /// Never: an issued record (a prescription, an invoice, a payment, an addendum) keeps
    /// what it was issued with; an offline edit goes to the conflict inbox.
    Immutable,
    /// The one change is how a person resolved it (`resolution`).
    Resolve,
}

/// What every tier needs to know about one kind, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySpec {
    pub kind: EntityKind,
    /// The server table of whole entities of this kind (`vaidya.<table>`), which pulls hand
    /// out; `None` for a child that travels inside its parent.
    pub server_table: Option<&'static str>,
    /// The device cache table of whole entities; `None` for children and for conflicts
    /// (kept in the device's own inbox tables).
    pub device_table: Option<&'static str>,
    /// The REST collection (`/v1/clinics/{clinic}/<collection>/{id}`) to fetch one again.
    pub collection: Option<&'static str>,
    /// The entity a child is created under (`Mutation::parent_id`).
    pub parent: Option<EntityKind>,
    /// The list in the parent's JSON that holds a child (`addenda`, `payments`).
    pub child_list: Option<&'static str>,
    /// Whether a device may push a create.
    pub creatable: bool,
    pub updates: Updates,
    /// Whether a device may push a delete (a tombstone).
    pub deletable: bool,
    /// Whether records of this kind belong to one patient (audited with the patient id).
    pub of_patient: bool,
}

impl EntitySpec {
    /// The permission table's name for this kind.
    pub fn resource(&self) -> Resource {
        Resource::from(self.kind)
    }
}

impl EntityKind {
    /// The facts about this kind. One exhaustive match: a new kind is a compile error here.
    pub const fn spec(self) -> &'static EntitySpec {
        const fn spec(
            kind: EntityKind,
            table: Option<&'static str>,
            parent: Option<(EntityKind, &'static str)>,
            updates: Updates,
            deletable: bool,
        ) -> EntitySpec {
            EntitySpec {
                kind,
                server_table: table,
                device_table: table,
                collection: table,
                parent: match parent {
                    Some((kind, _)) => Some(kind),
                    None => None,
                },
                child_list: match parent {
                    Some((_, list)) => Some(list),
                    None => None,
                },
                creatable: true,
                updates,
                deletable,
                of_patient: true,
            }
        }
        use EntityKind as K;
        use Updates::{Immutable, MergeFields};
        const PATIENT: EntitySpec = spec(K::Patient, Some("patients"), None, MergeFields, true);
        const APPOINTMENT: EntitySpec = spec(
            K::Appointment,
            Some("appointments"),
            None,
            MergeFields,
            true,
        );
        const ENCOUNTER: EntitySpec =
            spec(K::Encounter, Some("encounters"), None, MergeFields, false);
        const ADDENDUM: EntitySpec = spec(
            K::Addendum,
            None,
            Some((K::Encounter, "addenda")),
            Immutable,
            false,
        );
        const PRESCRIPTION: EntitySpec = spec(
            K::Prescription,
            Some("prescriptions"),
            None,
            Immutable,
            false,
        );
        const INVOICE: EntitySpec = spec(K::Invoice, Some("invoices"), None, Immutable, false);
        const PAYMENT: EntitySpec = spec(
            K::Payment,
            None,
            Some((K::Invoice, "payments")),
            Immutable,
            false,
        );
        const ALLERGY: EntitySpec = spec(K::Allergy, Some("allergies"), None, MergeFields, false);
        const CREDIT_NOTE: EntitySpec = spec(
            K::CreditNote,
            None,
            Some((K::Invoice, "credit_notes")),
            Immutable,
            false,
        );
        // The clinic's catalogue is about no patient.
        const CATALOGUE_ITEM: EntitySpec = EntitySpec {
            of_patient: false,
            ..spec(
                K::CatalogueItem,
                Some("catalogue_items"),
                None,
                MergeFields,
                false,
            )
        };
        const CONFLICT: EntitySpec = EntitySpec {
            kind: K::Conflict,
            server_table: Some("sync_conflicts"),
            device_table: None,
            collection: Some("conflicts"),
            parent: None,
            child_list: None,
            creatable: false,
            updates: Updates::Resolve,
            deletable: false,
            of_patient: false,
        };
        match self {
            K::Patient => &PATIENT,
            K::Appointment => &APPOINTMENT,
            K::Encounter => &ENCOUNTER,
            K::Addendum => &ADDENDUM,
            K::Prescription => &PRESCRIPTION,
            K::Invoice => &INVOICE,
            K::Payment => &PAYMENT,
            K::Conflict => &CONFLICT,
            K::Allergy => &ALLERGY,
            K::CreditNote => &CREDIT_NOTE,
            K::CatalogueItem => &CATALOGUE_ITEM,
        }
    }
}

/// The identity of a stored record, whatever its kind.
pub trait Stored {
    fn id(&self) -> Uuid;
    fn clinic_id(&self) -> Uuid;
    fn version(&self) -> i64;
    /// The patient the record belongs to (for the audit trail), if any.
    fn patient_id(&self) -> Option<Uuid>;
}

/// One kind's types. Implemented by the markers in [`kinds`]; each tier implements its own
/// trait (server storage, device cache) for the same markers.
pub trait Entity: 'static {
    const KIND: EntityKind;
    /// The whole entity as pulled and cached; for a child, its parent (an addendum travels
    /// inside its encounter).
    type Record: Stored + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The body of a create (the REST body and `Mutation::data`).
    type New: Validate + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The fields an update may set ([`Unchangeable`] when none may).
    type Patch: Validate + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The names of the fields an update may set: exactly the fields of `Patch` (but its
    /// `base_version`), as the record's JSON names them. Checked by the compiler: each list
    /// is matched by an exhaustive destructuring of the patch type, so a field added,
    /// renamed or removed there does not build until this list agrees.
    const EDITABLE: &'static [&'static str];

    fn spec() -> &'static EntitySpec {
        Self::KIND.spec()
    }
}

/// The body of an operation no device may perform: no value of it exists, so parsing one
/// always fails and code holding one is unreachable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Unchangeable {}

impl Validate for Unchangeable {
    fn validate(self, _today: chrono::NaiveDate) -> Result<Valid<Self>, ApiError> {
        match self {}
    }
}

/// One marker type per kind (named as the kind), implementing [`Entity`].
pub mod kinds {
    use super::*;

    /// A kind whose patch sets fields; the field list is checked against the patch type by
    /// an exhaustive destructuring (no `..`): it does not build until they agree.
    macro_rules! editable {
        ($kind:ident: $record:ty, $new:ty, $patch:path, [$($field:ident),*]) => {
            #[doc = concat!("The `", stringify!($kind), "` kind.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $kind;
            impl Entity for $kind {
                const KIND: EntityKind = EntityKind::$kind;
                type Record = $record;
                type New = $new;
                type Patch = $patch;
                const EDITABLE: &'static [&'static str] = &[$(stringify!($field)),*];
            }
            impl $kind {
                #[allow(dead_code)]
                fn editable_names_every_patch_field(patch: $patch) {
                    let $patch { base_version: _, $($field: _),* } = patch;
                }
            }
        };
    }

    /// A kind no update changes field by field.
    macro_rules! fixed {
        ($kind:ident: $record:ty, $new:ty, $patch:ty) => {
            #[doc = concat!("The `", stringify!($kind), "` kind.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $kind;
            impl Entity for $kind {
                const KIND: EntityKind = EntityKind::$kind;
                type Record = $record;
                type New = $new;
                type Patch = $patch;
                const EDITABLE: &'static [&'static str] = &[];
            }
        };
    }

    editable!(Patient: api::Patient, api::NewPatient, api::PatientPatch,
        [name, sex, date_of_birth, phone, address, abha_number]);
    editable!(Appointment: api::Appointment, api::NewAppointment, api::AppointmentPatch,
        [starts_at, ends_at, status, reason]);
    editable!(Encounter: api::Encounter, api::NewEncounter, api::EncounterPatch,
        [chief_complaint, notes, diagnosis, vitals]);
    fixed!(Addendum: api::Encounter, api::NewAddendum, Unchangeable);
    fixed!(Prescription: api::Prescription, api::NewPrescription, Unchangeable);
    fixed!(Invoice: api::Invoice, api::NewInvoice, Unchangeable);
    fixed!(Payment: api::Invoice, api::NewPayment, Unchangeable);
    fixed!(CreditNote: api::Invoice, api::NewCreditNote, Unchangeable);
    editable!(CatalogueItem: api::CatalogueItem, api::NewCatalogueItem, api::CatalogueItemPatch,
        [name, price_paise, active]);
    fixed!(Conflict: ConflictRecord, Unchangeable, ResolveConflict);
    editable!(Allergy: api::Allergy, api::NewAllergy, api::AllergyPatch,
        [substance, reaction, severity, status]);
}

/// Runs `$body` with `$E` naming the marker type of `$kind` (an [`EntityKind`] value):
/// `for_each_kind!(m.entity, E => create::<E>(tx, m).await)`. One exhaustive match; there is
/// no fallback arm, so every kind must fit the generic body.
#[macro_export]
macro_rules! for_each_kind {
    ($kind:expr, $E:ident => $body:expr) => {
        $crate::__match_kinds!($kind, $E, $body; Patient, Appointment, Encounter, Addendum,
            Prescription, Invoice, Payment, Conflict, Allergy, CreditNote, CatalogueItem)
    };
}

/// The match behind [`for_each_kind!`]: one arm per kind named.
#[doc(hidden)]
#[macro_export]
macro_rules! __match_kinds {
    ($kind:expr, $E:ident, $body:expr; $($variant:ident),*) => {
        match $kind {
            $($crate::sync::EntityKind::$variant => {
                type $E = $crate::entity::kinds::$variant;
                $body
            })*
        }
    };
}

macro_rules! stored {
    ($($ty:ty => |$r:ident| $patient:expr;)*) => {$(
        impl Stored for $ty {
            fn id(&self) -> Uuid { self.id }
            fn clinic_id(&self) -> Uuid { self.clinic_id }
            fn version(&self) -> i64 { self.version }
            fn patient_id(&self) -> Option<Uuid> { let $r = self; $patient }
        }
    )*};
}

stored! {
    api::Patient => |p| Some(p.id);
    api::Appointment => |a| Some(a.patient_id);
    api::Encounter => |e| Some(e.patient_id);
    api::Prescription => |p| Some(p.patient_id);
    api::Invoice => |i| Some(i.patient_id);
    api::Allergy => |a| Some(a.patient_id);
    api::CatalogueItem => |_i| None;
    ConflictRecord => |_c| None;
}

/// Parses and validates a create body of `E` with the shared rules.
pub fn parse_new<E: Entity>(
    data: serde_json::Value,
    today: chrono::NaiveDate,
) -> Result<Valid<E::New>, ApiError> {
    parse::<E::New>(data, "data")?.validate(today)
}

/// Parses and validates the new values of an update of `E` (field name → value).
pub fn parse_patch<E: Entity>(
    values: serde_json::Map<String, serde_json::Value>,
    today: chrono::NaiveDate,
) -> Result<Valid<E::Patch>, ApiError> {
    parse::<E::Patch>(serde_json::Value::Object(values), "changes")?.validate(today)
}

fn parse<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError {
        code: crate::ErrorCode::MalformedBody,
        message: format!("{what} has the wrong shape: {e}"),
        field: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of<E: Entity>() -> EntityKind {
        E::KIND
    }

    #[test]
    fn every_kind_maps_to_its_own_marker_and_spec() {
        for kind in EntityKind::ALL {
            assert_eq!(for_each_kind!(kind, E => kind_of::<E>()), kind);
            assert_eq!(kind.spec().kind, kind);
            // A child names its parent and has no table of its own; a parent has one.
            assert_eq!(
                kind.spec().parent.is_some(),
                kind.spec().server_table.is_none()
            );
        }
    }

    #[test]
    fn an_unchangeable_kind_refuses_any_patch() {
        let mut values = serde_json::Map::new();
        values.insert("notes".into(), serde_json::json!("x"));
        let today = chrono::Utc::now().date_naive();
        let err = parse_patch::<kinds::Invoice>(values, today).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::MalformedBody);
        assert!(parse_new::<kinds::Conflict>(serde_json::json!({}), today).is_err());
    }
}
