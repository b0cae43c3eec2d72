//! Who may do what: one table of role × action × resource, used by the server (REST and
//! push), the client core (before anything is written on the device) and, generated, the UI.
//! The database's row-level security policies are checked against this same table by a test
//! (`tests/server/policies.rs`), so the tiers cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::api::Role;
use crate::sync::EntityKind;
use crate::{ApiError, ErrorCode};

/// What a member does to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    /// Sign an encounter note (a legal act; afterwards the note never changes).
    Sign,
    /// Cancel an issued invoice: it is kept, marked cancelled and reported so.
    Cancel,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Sign,
        Action::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Sign => "sign",
            Action::Cancel => "cancel",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Read => "see",
            Action::Create => "add",
            Action::Update => "change",
            Action::Delete => "delete",
            Action::Sign => "sign",
            Action::Cancel => "cancel",
        }
    }
}

/// A kind of record a permission is about: every synced entity, plus the clinic's
/// administration (members, audit trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Patient,
    Appointment,
    Encounter,
    Addendum,
    Prescription,
    Invoice,
    Payment,
    Conflict,
    Allergy,
    CreditNote,
    CatalogueItem,
    Member,
    AuditLog,
}

impl Resource {
    pub const ALL: [Resource; 13] = [
        Resource::Patient,
        Resource::Appointment,
        Resource::Encounter,
        Resource::Addendum,
        Resource::Prescription,
        Resource::Invoice,
        Resource::Payment,
        Resource::Conflict,
        Resource::Allergy,
        Resource::CreditNote,
        Resource::CatalogueItem,
        Resource::Member,
        Resource::AuditLog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Patient => "patient",
            Resource::Appointment => "appointment",
            Resource::Encounter => "encounter",
            Resource::Addendum => "addendum",
            Resource::Prescription => "prescription",
            Resource::Invoice => "invoice",
            Resource::Payment => "payment",
            Resource::Conflict => "conflict",
            Resource::Allergy => "allergy",
            Resource::CreditNote => "credit_note",
            Resource::CatalogueItem => "catalogue_item",
            Resource::Member => "member",
            Resource::AuditLog => "audit_log",
        }
    }

    /// Plural noun for messages ("Your role may not add invoices").
    fn plural(self) -> &'static str {
        match self {
            Resource::Patient => "patients",
            Resource::Appointment => "appointments",
            Resource::Encounter => "clinical notes",
            Resource::Addendum => "addenda to notes",
            Resource::Prescription => "prescriptions",
            Resource::Invoice => "invoices",
            Resource::Payment => "payments",
            Resource::Conflict => "conflicts",
            Resource::Allergy => "allergies",
            Resource::CreditNote => "credit notes",
            Resource::CatalogueItem => "catalogue items",
            Resource::Member => "clinic members",
            Resource::AuditLog => "the audit trail",
        }
    }
}

impl From<EntityKind> for Resource {
    fn from(kind: EntityKind) -> Resource {
        match kind {
            EntityKind::Patient => Resource::Patient,
            EntityKind::Appointment => Resource::Appointment,
            EntityKind::Encounter => Resource::Encounter,
            EntityKind::Addendum => Resource::Addendum,
            EntityKind::Prescription => Resource::Prescription,
            EntityKind::Invoice => Resource::Invoice,
            EntityKind::Payment => Resource::Payment,
            EntityKind::Conflict => Resource::Conflict,
            EntityKind::Allergy => Resource::Allergy,
            EntityKind::CreditNote => Resource::CreditNote,
            EntityKind::CatalogueItem => Resource::CatalogueItem,
        }
    }
}

use Role::{Admin, Doctor, FrontDesk, Hub, Nurse};

const EVERYONE: &[Role] = &[Admin, Doctor, Nurse, FrontDesk];
const CLINICIANS: &[Role] = &[Doctor, Nurse];
const DOCTORS: &[Role] = &[Doctor];
/// Billing is the front desk's work; doctors of small clinics bill their own patients.
const BILLING: &[Role] = &[Admin, Doctor, FrontDesk];
const ADMINS: &[Role] = &[Admin];
const NOBODY: &[Role] = &[];
// Who *reads*: the same people, and the clinic's hub, which holds the whole clinic to serve
// its PCs during an outage (issue 11). The hub writes nothing as itself: it is in no
// other line of the table.
const EVERYONE_AND_HUB: &[Role] = &[Admin, Doctor, Nurse, FrontDesk, Hub];
const CLINICIANS_AND_HUB: &[Role] = &[Doctor, Nurse, Hub];
const BILLING_AND_HUB: &[Role] = &[Admin, Doctor, FrontDesk, Hub];

/// One line of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub resource: Resource,
    pub action: Action,
    pub roles: &'static [Role],
}

const fn grant(resource: Resource, action: Action, roles: &'static [Role]) -> Grant {
    Grant {
        resource,
        action,
        roles,
    }
}

/// THE permission table. A (resource, action) pair that is not listed is allowed to nobody:
/// issued prescriptions, invoices, payments and addenda never change (corrections are new
/// records; an invoice's one change is its cancellation, and a refund is a new, negative
/// payment), and notes are never deleted.
pub const GRANTS: &[Grant] = &[
    grant(Resource::Patient, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::Patient, Action::Create, EVERYONE),
    grant(Resource::Patient, Action::Update, EVERYONE),
    grant(Resource::Patient, Action::Delete, ADMINS),
    grant(Resource::Appointment, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::Appointment, Action::Create, EVERYONE),
    grant(Resource::Appointment, Action::Update, EVERYONE),
    grant(Resource::Appointment, Action::Delete, EVERYONE),
    grant(Resource::Encounter, Action::Read, CLINICIANS_AND_HUB),
    grant(Resource::Encounter, Action::Create, CLINICIANS),
    grant(Resource::Encounter, Action::Update, CLINICIANS),
    grant(Resource::Encounter, Action::Sign, DOCTORS),
    grant(Resource::Addendum, Action::Read, CLINICIANS_AND_HUB),
    grant(Resource::Addendum, Action::Create, CLINICIANS),
    grant(Resource::Prescription, Action::Read, CLINICIANS_AND_HUB),
    grant(Resource::Prescription, Action::Create, DOCTORS),
    grant(Resource::Invoice, Action::Read, BILLING_AND_HUB),
    grant(Resource::Invoice, Action::Create, BILLING),
    grant(Resource::Invoice, Action::Cancel, BILLING),
    grant(Resource::Payment, Action::Read, BILLING_AND_HUB),
    grant(Resource::Payment, Action::Create, BILLING),
    // Corrections of a bill are the biller's: a credit note gives value back (s. 34).
    grant(Resource::CreditNote, Action::Read, BILLING_AND_HUB),
    grant(Resource::CreditNote, Action::Create, BILLING),
    // The catalogue is the clinic's price list: everyone bills from it, its admins keep it.
    grant(Resource::CatalogueItem, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::CatalogueItem, Action::Create, ADMINS),
    grant(Resource::CatalogueItem, Action::Update, ADMINS),
    // Conflicts about clinical records carry clinical values: the database shows those to
    // the roles that may read the record itself (see `tests/server/policies.rs`).
    grant(Resource::Conflict, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::Conflict, Action::Update, EVERYONE),
    // Allergies are a safety fact: every member sees them (the front desk's card shows a
    // badge), clinicians record and change them.
    grant(Resource::Allergy, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::Allergy, Action::Create, CLINICIANS),
    grant(Resource::Allergy, Action::Update, CLINICIANS),
    grant(Resource::Member, Action::Read, EVERYONE_AND_HUB),
    grant(Resource::Member, Action::Create, ADMINS),
    grant(Resource::Member, Action::Update, ADMINS),
    grant(Resource::Member, Action::Delete, ADMINS),
    grant(Resource::AuditLog, Action::Read, ADMINS),
];

/// The roles that may do `action` to `resource` (empty: nobody).
pub fn roles_for(resource: Resource, action: Action) -> &'static [Role] {
    GRANTS
        .iter()
        .find(|g| g.resource == resource && g.action == action)
        .map_or(NOBODY, |g| g.roles)
}

/// Whether a member with `role` may do `action` to `resource`.
pub fn may(role: Role, resource: Resource, action: Action) -> bool {
    roles_for(resource, action).contains(&role)
}

/// `may`, as the error every tier shows: code `forbidden` and a sentence in words.
pub fn authorize(
    role: Role,
    resource: impl Into<Resource>,
    action: Action,
) -> Result<(), ApiError> {
    let resource = resource.into();
    if may(role, resource, action) {
        Ok(())
    } else {
        Err(denied(role, resource, action))
    }
}

/// The refusal of `action` on `resource` for `role`, in words.
pub fn denied(role: Role, resource: Resource, action: Action) -> ApiError {
    let who = match role {
        Admin => "A clinic admin",
        Doctor => "A doctor",
        Nurse => "A nurse",
        FrontDesk => "The front desk",
        Hub => "A clinic hub",
    };
    ApiError {
        code: ErrorCode::Forbidden,
        message: format!(
            "{who} may not {} {} in this clinic.",
            action.verb(),
            resource.plural()
        ),
        field: None,
    }
}

/// A SQL command as row-level security policies know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlCommand {
    Select,
    Insert,
    Update,
}

/// Which tables hold each resource's rows (children travel with their parent's rules).
pub const TABLES: &[(&str, Resource)] = &[
    ("patients", Resource::Patient),
    ("appointments", Resource::Appointment),
    ("encounters", Resource::Encounter),
    ("encounter_addenda", Resource::Addendum),
    ("prescriptions", Resource::Prescription),
    ("prescription_items", Resource::Prescription),
    ("invoices", Resource::Invoice),
    ("invoice_lines", Resource::Invoice),
    ("payments", Resource::Payment),
    ("allergies", Resource::Allergy),
    ("cancelled_invoice_numbers", Resource::Invoice),
    ("credit_notes", Resource::CreditNote),
    ("credit_note_lines", Resource::CreditNote),
    ("catalogue_items", Resource::CatalogueItem),
];

/// Whether a device keeps `resource`'s rows in the clinic file's *clinical store*: a
/// second SQLCipher file under a key the server releases only to the roles that may read
/// them, so a session of any other role on a shared PC cannot read them from disk
/// (`client` `partition::clinical_store`). These are the records only clinicians read.
pub fn in_clinical_store(resource: Resource) -> bool {
    let readers: Vec<Role> = roles_for(resource, Action::Read)
        .iter()
        .copied()
        .filter(|r| r.is_person())
        .collect();
    readers == CLINICIANS
}

/// Whether a member with `role` is given the clinical store's key: a person who may read
/// every resource kept in it. The clinic hub reads them from the server, never from a PC's
/// store, so it is never given a PC's key.
pub fn opens_clinical_store(role: Role) -> bool {
    role.is_person()
        && Resource::ALL
            .into_iter()
            .filter(|r| in_clinical_store(*r))
            .all(|r| may(role, r, Action::Read))
}

/// Who may approve a clinic hub that an admin registered: a person who may read everything
/// the hub reads (a doctor). The hub's credential is handed out at registration, so without
/// this second person an admin could read clinical records through it.
pub fn hub_approvers() -> Vec<Role> {
    Role::STAFF
        .into_iter()
        .filter(|role| {
            Resource::ALL
                .into_iter()
                .filter(|r| may(Hub, *r, Action::Read))
                .all(|r| may(*role, r, Action::Read))
        })
        .collect()
}

/// The resources `role` may read, as one key. Roles with the same key are shown the same
/// rows by the server's RLS, so a shared device keeps one pull cursor per key: a doctor who
/// signs in after the front desk synced still receives every older note (`client`
/// `ClinicPartition::set_reader`).
pub fn visibility_class(role: Role) -> String {
    Resource::ALL
        .into_iter()
        .filter(|r| may(role, *r, Action::Read))
        .map(Resource::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The roles the database must let run `command` on the resource's tables. SELECT is
/// `Read`; INSERT is `Create`; UPDATE is any write, because tombstones (delete), signatures
/// and the "touch" that re-syncs a parent are all UPDATEs at the storage level.
pub fn storage_roles(resource: Resource, command: SqlCommand) -> Vec<Role> {
    let actions: &[Action] = match command {
        SqlCommand::Select => &[Action::Read],
        SqlCommand::Insert => &[Action::Create],
        SqlCommand::Update => &[
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Sign,
            Action::Cancel,
        ],
    };
    Role::ALL
        .into_iter()
        .filter(|r| actions.iter().any(|a| may(*r, resource, *a)))
        .collect()
}

#[cfg(test)]
mod visibility_tests {
    use super::*;

    #[test]
    fn clinicians_and_the_front_desk_see_different_rows() {
        let desk = visibility_class(Role::FrontDesk);
        let doctor = visibility_class(Role::Doctor);
        assert_ne!(desk, doctor);
        assert!(doctor.contains("encounter") && !desk.contains("encounter"));
        assert_eq!(visibility_class(Role::Doctor), doctor, "stable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clinical_store_holds_notes_and_prescriptions_for_clinicians_only() {
        let stored: Vec<Resource> = Resource::ALL
            .into_iter()
            .filter(|r| in_clinical_store(*r))
            .collect();
        assert_eq!(
            stored,
            [
                Resource::Encounter,
                Resource::Addendum,
                Resource::Prescription
            ]
        );
        assert!(opens_clinical_store(Role::Doctor));
        assert!(opens_clinical_store(Role::Nurse));
        assert!(!opens_clinical_store(Role::FrontDesk));
        assert!(!opens_clinical_store(Role::Admin));
        assert!(!opens_clinical_store(Role::Hub));
    }

    #[test]
    fn the_hub_reads_every_record_and_writes_nothing() {
        for resource in Resource::ALL {
            assert_eq!(
                may(Hub, resource, Action::Read),
                resource != Resource::AuditLog,
                "{resource:?}"
            );
            for action in Action::ALL.into_iter().filter(|a| *a != Action::Read) {
                assert!(!may(Hub, resource, action), "{resource:?} {action:?}");
            }
        }
        assert_eq!(hub_approvers(), vec![Doctor]);
        assert_eq!(
            authorize(Hub, Resource::Patient, Action::Create)
                .unwrap_err()
                .message,
            "A clinic hub may not add patients in this clinic."
        );
    }

    #[test]
    fn each_pair_is_listed_once() {
        for (i, a) in GRANTS.iter().enumerate() {
            for b in &GRANTS[i + 1..] {
                assert!(
                    (a.resource, a.action) != (b.resource, b.action),
                    "{:?} {:?} listed twice",
                    a.resource,
                    a.action
                );
            }
        }
    }

    #[test]
    fn the_rules_the_clinic_relies_on() {
        assert!(!may(Nurse, Resource::Invoice, Action::Create));
        assert!(may(Doctor, Resource::Invoice, Action::Create));
        assert!(!may(FrontDesk, Resource::Encounter, Action::Read));
        assert!(!may(Nurse, Resource::Encounter, Action::Sign));
        assert!(!may(Nurse, Resource::Prescription, Action::Create));
        assert!(!may(Doctor, Resource::Patient, Action::Delete));
        assert!(!may(Admin, Resource::Prescription, Action::Update));
        let e = authorize(Nurse, EntityKind::Invoice, Action::Create).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(e.message, "A nurse may not add invoices in this clinic.");
    }

    #[test]
    fn storage_roles_follow_the_table() {
        assert_eq!(
            storage_roles(Resource::Prescription, SqlCommand::Update),
            vec![Doctor]
        );
        assert_eq!(
            storage_roles(Resource::Patient, SqlCommand::Update),
            EVERYONE.to_vec()
        );
    }
}
