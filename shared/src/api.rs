//! Request and response bodies of the REST API under `/v1`.
//!
//! Every request body rejects unknown fields, so a typo in a client is an error, not a
//! silently ignored value. Money is integer paise; dates are ISO 8601 on the wire (the UI
//! shows DD/MM/YYYY); ids are UUIDs, which clients may create themselves for offline work.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::gst::{LineTax, SupplyKind};

// ---------------------------------------------------------------- identity and sign-in

/// A member's role in one clinic (branch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Doctor,
    Nurse,
    FrontDesk,
    /// The clinic's hub (issue 11): a machine on the clinic's network, not a person. It
    /// reads every record of its one clinic and writes nothing as itself; what it relays
    /// is applied as each change's signed author. Registered under `/hubs`, never given
    /// to a person (the database refuses it, `memberships_hub_only_for_hubs`).
    Hub,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Doctor,
        Role::Nurse,
        Role::FrontDesk,
        Role::Hub,
    ];

    /// The roles a person may hold: what an admin picks from when adding or inviting a
    /// colleague or changing a role.
    pub const STAFF: [Role; 4] = [Role::Admin, Role::Doctor, Role::Nurse, Role::FrontDesk];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Doctor => "doctor",
            Role::Nurse => "nurse",
            Role::FrontDesk => "front_desk",
            Role::Hub => "hub",
        }
    }

    /// Whether the role is a person's (one of [`Role::STAFF`]: every role but the hub's).
    pub fn is_person(self) -> bool {
        Role::STAFF.contains(&self)
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Clinicians may read and write encounter notes.
    pub fn is_clinician(self) -> bool {
        matches!(self, Role::Doctor | Role::Nurse)
    }
}

/// Asks a clinic hub for a one-time sign-in challenge for a device key
/// (`POST /v1/auth/device-challenge`; a hub only, ARCHITECTURE.md "The clinic hub").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceChallengeRequest {
    pub clinic_id: Uuid,
    pub key_id: Uuid,
}

/// A one-time challenge: the PC signs it ([`DeviceSignIn`]) within two minutes, once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceChallenge {
    pub id: Uuid,
    /// 32 random bytes, base64 (standard alphabet).
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// A PC's answer to a hub's challenge, signed with its person's device key for the clinic
/// (`crate::authorship::Signable`, under its own name: no signed change or access can pass
/// for one) (`POST /v1/auth/device-login`, answered with a [`Session`] of the hub's).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceSignIn {
    pub clinic_id: Uuid,
    pub challenge_id: Uuid,
    pub challenge: String,
    /// The SHA-256 (hex) of the certificate of the hub this answer is for, as the PC pinned
    /// it, signed with the rest: a hub refuses an answer meant for another certificate. So
    /// whoever holds another certificate a PC trusts (a second hub of the clinic, a retired
    /// one still in a PC's list) cannot pass a real hub's challenge to a PC and sign in
    /// there with its answer. Absent only for a hub served without TLS (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_certificate_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<crate::authorship::Authorship>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The token this device got when it last signed in to this account. A known device's
    /// attempts are throttled on their own, so failed guesses from elsewhere never lock the
    /// account out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub device_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
}

/// One clinic the signed-in user belongs to, with the role there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Membership {
    pub clinic_id: Uuid,
    pub clinic_name: String,
    pub group_id: Uuid,
    pub group_name: String,
    pub role: Role,
}

/// Returned by login and refresh. Tokens are opaque; the server stores only their hashes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Session {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    /// Until when a client may unlock its offline cache without reaching the server.
    pub offline_lease_until: DateTime<Utc>,
    pub user: UserSummary,
    pub memberships: Vec<Membership>,
    /// After a sign-in: this device's token for the account (keep it with the session's
    /// secrets and send it with the next sign-in). Absent after a refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub device_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Me {
    pub user: UserSummary,
    pub memberships: Vec<Membership>,
}

/// A membership as clinic admins manage it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Member {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub user: UserSummary,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// A doctor's registration as this clinic records it; printed with their name.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub registration: Option<MedicalRegistration>,
}

/// A doctor's medical registration (NMC: the registration number is shown with the name on
/// prescriptions and receipts) and qualifications, as the clinic's admin records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MedicalRegistration {
    /// With the council: `MMC 2009/04/1234`.
    pub number: String,
    /// `MBBS, MD (Medicine)`.
    #[serde(default)]
    pub qualifications: String,
}

/// A signing key of the signed-in user on this device (see `vaidya_shared::authorship`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewDeviceKey {
    /// Chosen by the device; names the key in each signature.
    pub id: Uuid,
    /// The Ed25519 public key, base64 of 32 bytes.
    pub public_key: String,
}

/// What a device removed when a member lost their place in a clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WipeScope {
    /// The clinic's whole file on the device and its key: nobody else used it there.
    File,
    /// What only the former member could read there; colleagues keep the file and their
    /// pending work.
    Member,
}

impl WipeScope {
    pub fn as_str(self) -> &'static str {
        match self {
            WipeScope::File => "file",
            WipeScope::Member => "member",
        }
    }
}

/// A wipe a device did on a member's revocation, reported once (by `id`) for the clinic's
/// audit trail: by the former member at the sign-in that did it, or later by a colleague's
/// session on the same PC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DeviceWipe {
    /// Chosen by the device: a report sent twice is recorded once.
    pub id: Uuid,
    pub clinic_id: Uuid,
    /// The former member whose data left the device.
    pub user_id: Uuid,
    /// The device's time of the wipe (bounded by the server like every device time).
    pub wiped_at: DateTime<Utc>,
    pub scope: WipeScope,
}

/// A device key of a clinic member, as a clinic admin sees it: which devices hold (and sign
/// for) the member's data, and whether the key or the membership was revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MemberDevice {
    pub key_id: Uuid,
    pub user_id: Uuid,
    /// The device's name as it signed in (`X-Vaidya-Device`), when it gave one.
    pub device: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the member lost their membership, if they did.
    pub member_revoked_at: Option<DateTime<Utc>>,
}

/// Add an existing user (by email) to the clinic.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    pub role: Role,
}

/// Which desktop build asks for an update (`GET /v1/desktop/update`): the names Tauri's
/// updater uses for the operating system, the CPU and the installer.
/// Unknown names are refused when the query is read (`invalid_parameter` on the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesktopUpdateQuery {
    pub target: DesktopOs,
    pub arch: DesktopArch,
    /// The installer the running app came from, when known (not for a plain `cargo build`).
    #[serde(default)]
    pub bundle: Option<DesktopBundle>,
    /// The running version (semver).
    pub version: String,
}

/// Defines a desktop build's name set once: its variants, their wire names (Tauri's updater
/// names, which also key `latest.json`), and reading one back.
macro_rules! desktop_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

desktop_names!(
    /// The operating system of a desktop build, as the updater names it.
    DesktopOs { Windows = "windows", MacOs = "darwin", Linux = "linux" }
);
desktop_names!(
    /// The CPU of a desktop build, as the updater names it.
    DesktopArch { X86_64 = "x86_64", Aarch64 = "aarch64", I686 = "i686", Armv7 = "armv7" }
);
desktop_names!(
    /// The installer a desktop build came from, as the updater names it.
    DesktopBundle { Msi = "msi", Nsis = "nsis", App = "app", AppImage = "appimage", Deb = "deb", Rpm = "rpm" }
);

/// A newer desktop release for the asking build, in the shape of Tauri's updater "dynamic"
/// manifest (so the desktop hands it to the updater as it came), plus `required`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DesktopUpdate {
    pub version: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// RFC 3339, as the release workflow wrote it.
    #[serde(default)]
    pub pub_date: Option<String>,
    /// Where the signed installer is downloaded from.
    pub url: String,
    /// The installer's minisign signature (base64), checked against the key built into the
    /// app before anything is installed.
    pub signature: String,
    /// The running version is below the oldest the server supports: sync stops until the PC
    /// is updated (its unsent work waits on the PC).
    pub required: bool,
}

/// An invitation to join a clinic with a role. A clinic admin adds colleagues of the same
/// group directly; anyone else is invited and joins only by accepting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Invitation {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub clinic_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How long an invitation stays open.
pub const INVITATION_DAYS: i64 = 14;

/// What adding a member by email did: added a colleague of the clinic's group, or invited
/// someone else (who joins by accepting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MemberAdded {
    Added { member: Member },
    Invited { invitation: Invitation },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub role: Role,
}

// ---------------------------------------------------------------- clinic hubs

/// Register a clinic hub (issue 11): a machine on the clinic's network that its PCs sync
/// through when the internet line is down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewHub {
    /// What the clinic calls it ("Reception PC", "Hub in the back office"), 1–200 characters.
    pub name: String,
    /// SHA-256 of the hub's TLS certificate (DER), 64 lowercase hex digits: made on the hub
    /// machine at registration and pinned here, the only certificate the clinic's PCs will
    /// accept from it on their network. A hub registered without one is never offered to
    /// the PCs (`GET /v1/clinics/{id}/hub-endpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub certificate_sha256: Option<String>,
}

/// Where an approved hub answers on its clinic's network, as the hub itself announces it
/// (`PUT /v1/clinics/{id}/hubs/{hub_id}/addresses`, the hub only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubAddresses {
    /// `https://192.168.1.20:8443`: https only, 1–8 of them.
    pub addresses: Vec<String>,
}

/// A clinic's hub as its PCs find it (`GET /v1/clinics/{id}/hub-endpoints`, the clinic's
/// people): its addresses on the clinic's network and the certificate pinned at
/// registration, the only one a PC accepts from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HubEndpoint {
    pub hub_id: Uuid,
    pub name: String,
    pub addresses: Vec<String>,
    pub certificate_sha256: String,
    pub announced_at: Option<DateTime<Utc>>,
}

/// A clinic's hub as the group server knows it: a member of this one clinic with the role
/// `hub`, which reads the clinic's records and writes nothing as itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Hub {
    /// The hub's account: the actor its reads are audited under.
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub registered_at: DateTime<Utc>,
    /// The admin who registered it.
    pub registered_by: String,
    /// When a doctor approved it: only then is it a member and reads anything.
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The SHA-256 (hex) of the TLS certificate it was registered with: the one the
    /// clinic's PCs accept from it. `vaidya-server hub status` prints the same on the hub
    /// machine, so whoever approves or reviews a hub can tell it is that machine. `None`
    /// for a hub registered without one (before hubs served PCs).
    pub certificate_sha256: Option<String>,
}

/// What a clinic hub knows of its clinic's people, to check on the clinic's network who a
/// PC's user is and whose signature a change carries (`GET /v1/clinics/{id}/directory`,
/// the clinic's hub only). Revoked members and keys are listed too, with when: the hub must
/// refuse them, not forget them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Directory {
    /// The clinic itself (its GST identity, for the bills the hub takes in).
    pub clinic: Clinic,
    pub members: Vec<Member>,
    pub device_keys: Vec<DirectoryKey>,
    /// Which PC owns which invoice series of the clinic (bills of a PC's own series are
    /// the only ones a hub takes in).
    pub invoice_series: Vec<SeriesOwner>,
}

/// An invoice series allocated to one PC's clinic file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SeriesOwner {
    /// `D3`.
    pub code: String,
    /// The clinic file's random device id.
    pub partition_id: String,
    /// The PC's name (`x-vaidya-device`) the series is bound to.
    pub device: String,
    pub allocated_by: Uuid,
    pub allocated_at: DateTime<Utc>,
}

/// A member's device signing key: the public half, as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DirectoryKey {
    pub key_id: Uuid,
    pub user_id: Uuid,
    /// Ed25519 public key, base64 of 32 bytes.
    pub public_key: String,
    pub registered_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A hub just approved, with its credential: shown this once, to the approving doctor's
/// call on the hub machine, for its OS keyring. The hub exchanges it at
/// `POST /v1/auth/refresh` like any refresh token. The registering admin never sees it (a
/// hub reads clinical records, which an admin may not); the approver may read all the hub
/// reads anyway (`permissions::hub_approvers`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HubApproved {
    pub hub: Hub,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- paging

/// Paging for list endpoints: `limit` (1–200, default 50) and `offset`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One page of a list. `next_offset` is absent on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_offset: Option<i64>,
    /// For lists paged by position (the patient list): pass as `after` for the next page,
    /// which costs the same however deep it is. Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub next_after: Option<Uuid>,
}

// ---------------------------------------------------------------- patients

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Sex> {
        [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Patient {
    pub id: Uuid,
    pub clinic_id: Uuid,
    /// Per-clinic running number shown on cards and prints.
    pub patient_number: i64,
    pub name: String,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Ayushman Bharat Health Account number (14 digits), optional.
    pub abha_number: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    /// Client-chosen id (for offline creation); the server makes one when absent.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub name: String,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub abha_number: Option<String>,
}

/// Merges a duplicate record into the patient that stays (clinic admins): the duplicate's
/// appointments, notes, prescriptions, bills and allergies move to the survivor, and the
/// duplicate becomes a tombstone that names it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MergePatients {
    pub duplicate_id: Uuid,
}

/// Fields to change. An empty string clears an optional text field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PatientPatch {
    /// When given, the update applies only if the row is still at this version.
    pub base_version: Option<i64>,
    pub name: Option<String>,
    pub sex: Option<Sex>,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub abha_number: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PatientQuery {
    /// Every word typed is the start of a word of the name, the phone (with or without the
    /// country code), the patient number or the ABHA number (`vaidya_shared::search`).
    /// Matches come in name order, like the list.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Continue after this patient (the previous page's `next_after`): the list in name
    /// order from there, as fast on the thousandth page as on the first.
    pub after: Option<Uuid>,
}

// ---------------------------------------------------------------- appointments

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    CheckedIn,
    InConsultation,
    Completed,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 6] = [
        AppointmentStatus::Booked,
        AppointmentStatus::CheckedIn,
        AppointmentStatus::InConsultation,
        AppointmentStatus::Completed,
        AppointmentStatus::Cancelled,
        AppointmentStatus::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::InConsultation => "in_consultation",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<AppointmentStatus> {
        AppointmentStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The day's queue moves forward only: booked → checked in → in consultation →
    /// completed; booked or checked-in visits may be cancelled or marked no-show.
    pub fn can_move_to(self, next: AppointmentStatus) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, next),
            (Booked, CheckedIn)
                | (Booked, Cancelled)
                | (Booked, NoShow)
                | (CheckedIn, InConsultation)
                | (CheckedIn, Cancelled)
                | (CheckedIn, NoShow)
                | (InConsultation, Completed)
        ) || self == next
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Appointment {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct AppointmentPatch {
    pub base_version: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: Option<AppointmentStatus>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct AppointmentQuery {
    pub doctor_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub status: Option<AppointmentStatus>,
    /// Appointments starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Appointments starting before this instant.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

// ---------------------------------------------------------------- encounters

/// Vital signs in integer units, so no float ever reaches a chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub pulse_bpm: Option<i32>,
    pub systolic_mmhg: Option<i32>,
    pub diastolic_mmhg: Option<i32>,
    /// Tenths of a degree Celsius (368 = 36.8 °C).
    pub temperature_dc: Option<i32>,
    pub spo2_percent: Option<i32>,
    pub respiratory_rate: Option<i32>,
    pub weight_g: Option<i32>,
    pub height_mm: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Addendum {
    pub id: Uuid,
    pub encounter_id: Uuid,
    pub author_id: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Encounter {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub chief_complaint: String,
    pub notes: String,
    pub diagnosis: String,
    pub vitals: Vitals,
    /// Once set, the note is immutable; corrections are addenda.
    pub signed_at: Option<DateTime<Utc>>,
    pub signed_by: Option<Uuid>,
    pub addenda: Vec<Addendum>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewEncounter {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    pub appointment_id: Option<Uuid>,
    #[serde(default)]
    pub chief_complaint: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub diagnosis: String,
    #[serde(default)]
    pub vitals: Vitals,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct EncounterPatch {
    pub base_version: Option<i64>,
    pub chief_complaint: Option<String>,
    pub notes: Option<String>,
    pub diagnosis: Option<String>,
    pub vitals: Option<Vitals>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewAddendum {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct ClinicalQuery {
    pub patient_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

// ---------------------------------------------------------------- allergies

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AllergySeverity {
    Mild,
    Moderate,
    Severe,
    LifeThreatening,
}

impl AllergySeverity {
    pub const ALL: [AllergySeverity; 4] = [
        AllergySeverity::Mild,
        AllergySeverity::Moderate,
        AllergySeverity::Severe,
        AllergySeverity::LifeThreatening,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AllergySeverity::Mild => "mild",
            AllergySeverity::Moderate => "moderate",
            AllergySeverity::Severe => "severe",
            AllergySeverity::LifeThreatening => "life_threatening",
        }
    }

    pub fn parse(s: &str) -> Option<AllergySeverity> {
        AllergySeverity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AllergyStatus {
    Active,
    /// Resolved or entered in error; kept for the record, never warns.
    Inactive,
}

impl AllergyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AllergyStatus::Active => "active",
            AllergyStatus::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<AllergyStatus> {
        [AllergyStatus::Active, AllergyStatus::Inactive]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A patient's allergy or adverse reaction, noted by a clinician. Every member of the
/// clinic sees it (the front desk's card shows a badge); prescribing a matching drug needs
/// an acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Allergy {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub patient_id: Uuid,
    /// What the patient reacts to: a drug's generic name from the list, or free text.
    pub substance: String,
    pub reaction: String,
    pub severity: AllergySeverity,
    pub status: AllergyStatus,
    pub noted_by: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct NewAllergy {
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    pub substance: String,
    #[serde(default)]
    pub reaction: String,
    pub severity: AllergySeverity,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct AllergyPatch {
    pub base_version: Option<i64>,
    pub substance: Option<String>,
    pub reaction: Option<String>,
    pub severity: Option<AllergySeverity>,
    pub status: Option<AllergyStatus>,
}

// ---------------------------------------------------------------- catalogue

/// An item of the clinic's catalogue of services and goods: what the invoice editor offers,
/// with the code, tax treatment, rate, unit and price a line of it carries. Synced to every
/// PC of the clinic (billing works offline); its clinic's admins add and edit items. An
/// item's tax identity (code, treatment, rate, unit) is fixed once made: a new rate is a new
/// item, and the old one is retired (`active: false`), so nothing about past bills changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CatalogueItem {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub name: String,
    pub sac_hsn: String,
    pub treatment: crate::gst::TaxTreatment,
    pub gst_rate_bp: u32,
    pub unit: String,
    pub price_paise: i64,
    /// Offered on new bills; a retired item is kept for the record.
    pub active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewCatalogueItem {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub name: String,
    pub sac_hsn: String,
    /// None: taxable at a rate, else exempt. Always set once validated.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub treatment: Option<crate::gst::TaxTreatment>,
    pub gst_rate_bp: u32,
    /// GSTN's unit code; none: `NA` for a service, `NOS` for goods. Set once validated.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub unit: Option<String>,
    pub price_paise: i64,
}

/// What an admin may change of an item: its name, its price, whether it is offered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct CatalogueItemPatch {
    pub base_version: Option<i64>,
    pub name: Option<String>,
    pub price_paise: Option<i64>,
    pub active: Option<bool>,
}

/// A group's catalogue: the items its branches offer, as the admin of several of them sees
/// it. An item keeps one id in every branch it is copied to (its tax identity travels with
/// it); each branch keeps its own name, price and whether it offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroupCatalogue {
    pub group_id: Uuid,
    /// The branches of the group the caller administers, by name.
    pub branches: Vec<GroupBranch>,
    /// Items by name (the first branch's name), then id.
    pub items: Vec<GroupCatalogueItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroupBranch {
    pub clinic_id: Uuid,
    pub name: String,
}

/// One item of a group's catalogue and the branches that hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroupCatalogueItem {
    pub id: Uuid,
    pub sac_hsn: String,
    pub treatment: crate::gst::TaxTreatment,
    pub gst_rate_bp: u32,
    pub unit: String,
    /// Each branch's copy (name, price, offered), in the order of `GroupCatalogue::branches`.
    pub copies: Vec<CatalogueItem>,
}

/// Adds an item to several branches of a group at once: `item` (with its id, to copy an
/// existing item to more branches) goes to each of `clinics` that does not hold it yet; none
/// named: every branch of the group the caller administers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewGroupCatalogueItem {
    pub item: NewCatalogueItem,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub clinics: Option<Vec<Uuid>>,
}

// ---------------------------------------------------------------- prescriptions

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrescriptionItem {
    pub id: Uuid,
    pub position: i32,
    pub drug: String,
    pub strength: String,
    pub dose: String,
    pub frequency: String,
    pub duration: String,
    pub instructions: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewPrescriptionItem {
    pub drug: String,
    #[serde(default)]
    pub strength: String,
    #[serde(default)]
    pub dose: String,
    #[serde(default)]
    pub frequency: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub instructions: String,
}

/// A prescription is issued (signed) when created and is immutable afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Prescription {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub encounter_id: Option<Uuid>,
    pub notes: String,
    pub items: Vec<PrescriptionItem>,
    /// Active allergies the prescribing doctor was warned about and acknowledged.
    #[serde(default)]
    pub acknowledged_allergies: Vec<Uuid>,
    pub issued_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewPrescription {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    pub encounter_id: Option<Uuid>,
    #[serde(default)]
    pub notes: String,
    pub items: Vec<NewPrescriptionItem>,
    /// Ids of the patient's active allergies that match a drug of this prescription, which
    /// the doctor acknowledged after the warning.
    #[serde(default)]
    pub acknowledged_allergies: Vec<Uuid>,
}

// ---------------------------------------------------------------- invoices

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Upi,
    Card,
    Other,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Upi => "upi",
            PaymentMethod::Card => "card",
            PaymentMethod::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentMethod> {
        [
            PaymentMethod::Cash,
            PaymentMethod::Upi,
            PaymentMethod::Card,
            PaymentMethod::Other,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceLine {
    pub id: Uuid,
    pub position: i32,
    pub description: String,
    /// SAC (services) or HSN (goods) code.
    pub sac_hsn: String,
    pub quantity: i64,
    pub unit_price_paise: i64,
    pub discount_paise: i64,
    pub gst_rate_bp: u32,
    pub tax: LineTax,
    /// Absent on lines issued before treatments were kept: see [`InvoiceLine::treatment`].
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub treatment: Option<crate::gst::TaxTreatment>,
    /// Absent on lines issued before units were kept: see [`InvoiceLine::unit`].
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub unit: Option<String>,
}

impl InvoiceLine {
    /// The line's treatment; a line from before treatments were kept is read by its rate.
    pub fn treatment(&self) -> crate::gst::TaxTreatment {
        self.treatment
            .unwrap_or_else(|| crate::gst::TaxTreatment::default_for(self.gst_rate_bp))
    }

    /// The line's unit; a line from before units were kept is read by its code.
    pub fn unit(&self) -> &str {
        self.unit
            .as_deref()
            .unwrap_or_else(|| crate::gst::default_unit(&self.sac_hsn))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewInvoiceLine {
    pub description: String,
    pub sac_hsn: String,
    pub quantity: i64,
    pub unit_price_paise: i64,
    #[serde(default)]
    pub discount_paise: i64,
    pub gst_rate_bp: u32,
    /// Taxable, exempt, nil-rated or non-GST; none: taxable at a rate, else exempt. Always
    /// set once validated.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub treatment: Option<crate::gst::TaxTreatment>,
    /// GSTN's unit quantity code (`gst::UNITS`): `NA` for services; none: `NA` for a service,
    /// `NOS` for goods. Always set once validated.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Payment {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub amount_paise: i64,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub amount_paise: i64,
    pub method: PaymentMethod,
    pub reference: Option<String>,
}

/// A credit note against an issued invoice (CGST Act s. 34, Rule 53(1A)): part or all of
/// some of its lines' taxable value given back, with the tax on it at each line's rate.
/// It travels inside its invoice, like a payment; it is never edited or deleted. Money
/// already paid goes back as a refund (a negative payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreditNote {
    pub id: Uuid,
    pub invoice_id: Uuid,
    /// The credit-note series of the year (`2526-CN`, numbered by the server, or a PC's
    /// `2526-C3`): `numbering`.
    pub series: String,
    pub number: i64,
    /// Printed number, `<series>/<number>`.
    pub credit_note_number: String,
    /// The note's own date (the act's time on the device, bounded like every act).
    pub issued_at: DateTime<Utc>,
    pub reason: String,
    pub lines: Vec<CreditNoteLine>,
    pub totals: LineTax,
}

/// One invoice line's credited part: its taxable value and the tax on it at the line's rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreditNoteLine {
    pub invoice_line_id: Uuid,
    pub position: i32,
    pub description: String,
    pub sac_hsn: String,
    pub gst_rate_bp: u32,
    pub tax: LineTax,
}

/// A credit note to issue (`POST …/invoices/{id}/credit-notes`, or offline a create of kind
/// `credit_note` whose parent is the invoice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewCreditNote {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    /// A PC's credit-note series (offline issue); none: the clinic's main series of the year.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub series: Option<String>,
    /// The number within a PC's series; never for the main series.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub number: Option<i64>,
    /// Why the value is given back (printed on the note).
    pub reason: String,
    pub lines: Vec<NewCreditNoteLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewCreditNoteLine {
    pub invoice_line_id: Uuid,
    /// The taxable value credited, in paise: more than 0, at most what is left of the line.
    pub taxable_paise: i64,
}

/// A business customer billed with its GSTIN (a "B2B" supply, e.g. a company's health
/// check-ups): printed on the invoice (CGST Rule 46(e)) and reported in GSTR-1's B2B table.
/// Its GSTIN may be of any state: health services and goods handed over at the clinic are
/// supplied in the clinic's state whoever receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct InvoiceRecipient {
    /// The customer's GSTIN, checked with its check character.
    pub gstin: String,
    /// The customer's legal name, as registered.
    pub name: String,
}

/// The supplier as printed on an invoice: the clinic's details at the issue, kept with the
/// invoice so a reprint is identical to the original (CGST Rule 46(a)) even after the
/// clinic moves or changes its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceSupplier {
    pub name: String,
    pub address: String,
    pub gstin: Option<String>,
    /// Two-digit GST state code.
    pub state_code: String,
}

impl InvoiceSupplier {
    /// As at now, from the clinic's details.
    pub fn of(clinic: &Clinic) -> InvoiceSupplier {
        InvoiceSupplier {
            name: clinic.name.clone(),
            address: clinic.address.clone(),
            gstin: clinic.gstin.clone(),
            state_code: clinic.state_code.clone(),
        }
    }

    /// What the GST rules need of it.
    pub fn gst(&self) -> crate::gst::Supplier<'_> {
        crate::gst::Supplier {
            state_code: &self.state_code,
            gstin: self.gstin.as_deref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Invoice {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub patient_id: Uuid,
    /// The series the number was issued from (one per device or branch desk).
    pub series: String,
    pub number: i64,
    /// Printed number, `<series>/<number>`.
    pub invoice_number: String,
    pub issued_at: DateTime<Utc>,
    /// Two-digit GST state code of the place of supply.
    pub place_of_supply: String,
    pub supply_kind: SupplyKind,
    pub lines: Vec<InvoiceLine>,
    pub totals: LineTax,
    pub payments: Vec<Payment>,
    pub paid_paise: i64,
    pub version: i64,
    /// The clinic's details at the issue; absent on invoices issued before they were kept
    /// (those print with the clinic's current details).
    #[serde(default)]
    pub supplier: Option<InvoiceSupplier>,
    /// The business customer, for a B2B invoice; absent for a patient's own bill.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub recipient: Option<InvoiceRecipient>,
    /// Set once the invoice is cancelled (it is kept, and reported as cancelled).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub cancellation: Option<InvoiceCancellation>,
    /// Credit notes issued against it, oldest first.
    #[serde(default)]
    pub credit_notes: Vec<CreditNote>,
    /// The doctor whose care is billed, when one was named.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub doctor_id: Option<Uuid>,
}

impl Invoice {
    /// The total value (tax included) given back by its credit notes.
    pub fn credited_paise(&self) -> i64 {
        self.credit_notes.iter().map(|c| c.totals.total_paise).sum()
    }

    /// What is still to be paid: the total, less credit notes and payments (negative when
    /// a refund is owed).
    pub fn due_paise(&self) -> i64 {
        self.totals.total_paise - self.credited_paise() - self.paid_paise
    }
}

/// How an issued invoice was cancelled: when (the act's own time, as for a note's
/// signing), by whom and why. An invoice is never deleted; a cancelled one keeps its number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceCancellation {
    pub cancelled_at: DateTime<Utc>,
    pub cancelled_by: Uuid,
    pub reason: String,
}

/// A request to cancel an issued invoice (`POST …/invoices/{id}/cancel`, or offline the
/// `cancel` act of an invoice update, see `sync::Mutation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CancelInvoice {
    pub reason: String,
}

/// The days (in India) a collections report covers, both ends included; at most
/// [`MAX_REPORT_DAYS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CollectionsQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The longest period one report covers (a year, leap day included).
pub const MAX_REPORT_DAYS: i64 = 366;

/// Payments of one mode: how many and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MethodTotal {
    pub method: PaymentMethod,
    pub payments: i64,
    pub amount_paise: i64,
}

/// One day's collections (a day with no payment is left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayCollections {
    pub date: NaiveDate,
    pub by_method: Vec<MethodTotal>,
    pub total_paise: i64,
}

/// What a clinic (branch) collected over a period, per day and payment mode: what the front
/// desk counts when it closes the day. Payments count on the day (India time) they were
/// received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CollectionsReport {
    pub clinic_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<DayCollections>,
    /// The whole period, per payment mode.
    pub by_method: Vec<MethodTotal>,
    /// The whole period, per doctor billed (`None`: bills that named no doctor).
    #[serde(default)]
    pub by_doctor: Vec<DoctorTotal>,
    pub total_paise: i64,
}

/// Adds a sum to its payment mode's total in `totals` (a mode appears once).
fn add_to_mode(
    totals: &mut Vec<MethodTotal>,
    method: PaymentMethod,
    payments: i64,
    amount_paise: i64,
) {
    match totals.iter_mut().find(|m| m.method == method) {
        Some(m) => {
            m.payments += payments;
            m.amount_paise += amount_paise;
        }
        None => totals.push(MethodTotal {
            method,
            payments,
            amount_paise,
        }),
    }
}

/// A group's collections for a period, branch by branch: the roll-up for a group admin,
/// who is an admin of each branch included (RLS decides; no branch is shown to anyone
/// else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroupCollectionsReport {
    pub group_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub branches: Vec<BranchCollections>,
    /// All the branches, per payment mode.
    pub by_method: Vec<MethodTotal>,
    pub total_paise: i64,
}

/// One branch of a group's roll-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BranchCollections {
    pub clinic_id: Uuid,
    pub clinic_name: String,
    pub by_method: Vec<MethodTotal>,
    pub total_paise: i64,
}

impl GroupCollectionsReport {
    /// The roll-up from per-(branch, mode) sums; `branches` names every branch included,
    /// those that took nothing too.
    pub fn from_sums(
        group_id: Uuid,
        query: &CollectionsQuery,
        branches: Vec<(Uuid, String)>,
        sums: impl IntoIterator<Item = (Uuid, PaymentMethod, i64, i64)>,
    ) -> GroupCollectionsReport {
        let mut branches: Vec<BranchCollections> = branches
            .into_iter()
            .map(|(clinic_id, clinic_name)| BranchCollections {
                clinic_id,
                clinic_name,
                by_method: Vec::new(),
                total_paise: 0,
            })
            .collect();
        let mut by_method: Vec<MethodTotal> = Vec::new();
        for (clinic, method, payments, amount_paise) in sums {
            let Some(branch) = branches.iter_mut().find(|b| b.clinic_id == clinic) else {
                continue;
            };
            branch.by_method.push(MethodTotal {
                method,
                payments,
                amount_paise,
            });
            branch.total_paise += amount_paise;
            add_to_mode(&mut by_method, method, payments, amount_paise);
        }
        by_method.sort_by_key(|m| m.method.as_str());
        GroupCollectionsReport {
            group_id,
            from: query.from,
            to: query.to,
            total_paise: branches.iter().map(|b| b.total_paise).sum(),
            branches,
            by_method,
        }
    }
}

/// What a doctor's bills took in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DoctorTotal {
    pub doctor_id: Option<Uuid>,
    pub payments: i64,
    pub amount_paise: i64,
}

impl CollectionsReport {
    /// The report from per-(day, mode) sums, in day then mode order.
    pub fn from_sums(
        clinic_id: Uuid,
        query: &CollectionsQuery,
        sums: impl IntoIterator<Item = (NaiveDate, PaymentMethod, i64, i64)>,
    ) -> CollectionsReport {
        let mut days: Vec<DayCollections> = Vec::new();
        let mut by_method: Vec<MethodTotal> = Vec::new();
        for (date, method, payments, amount_paise) in sums {
            if days.last().is_none_or(|d| d.date != date) {
                days.push(DayCollections {
                    date,
                    by_method: Vec::new(),
                    total_paise: 0,
                });
            }
            let day = days.last_mut().expect("pushed above");
            day.by_method.push(MethodTotal {
                method,
                payments,
                amount_paise,
            });
            day.total_paise += amount_paise;
            add_to_mode(&mut by_method, method, payments, amount_paise);
        }
        by_method.sort_by_key(|m| m.method.as_str());
        CollectionsReport {
            clinic_id,
            from: query.from,
            to: query.to,
            total_paise: days.iter().map(|d| d.total_paise).sum(),
            days,
            by_method,
            by_doctor: Vec::new(),
        }
    }

    /// As CSV for a spreadsheet: one row per day and mode, amounts in rupees with two
    /// decimals, a total row per mode, then a row per doctor billed (`doctor_name` names
    /// them; quoted). Other fields are dates, mode names or numbers.
    pub fn to_csv(&self, doctor_name: impl Fn(Option<Uuid>) -> String) -> String {
        // Signed: a day of refunds nets below zero.
        let rupees = |paise: i64| {
            let sign = if paise < 0 { "-" } else { "" };
            let abs = paise.unsigned_abs();
            format!("{sign}{}.{:02}", abs / 100, abs % 100)
        };
        let mut out = String::from("date,method,payments,amount_inr\n");
        for day in &self.days {
            for m in &day.by_method {
                out.push_str(&format!(
                    "{},{},{},{}\n",
                    day.date,
                    m.method.as_str(),
                    m.payments,
                    rupees(m.amount_paise)
                ));
            }
        }
        for m in &self.by_method {
            out.push_str(&format!(
                "total,{},{},{}\n",
                m.method.as_str(),
                m.payments,
                rupees(m.amount_paise)
            ));
        }
        for d in &self.by_doctor {
            out.push_str(&format!(
                "doctor,\"{}\",{},{}\n",
                doctor_name(d.doctor_id).replace('"', "\"\""),
                d.payments,
                rupees(d.amount_paise)
            ));
        }
        out
    }
}

/// A PC's request for its invoice series code in a clinic (`crate::numbering`): one code per
/// file of the clinic on the PC, named by the file's random device id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvoiceSeries {
    /// The clinic file's device id: 32 lowercase hex digits.
    pub partition_id: String,
}

/// The code a PC numbers its invoices under (`D3`: series `2526-D3`, `2627-D3`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceSeries {
    pub code: String,
}

/// A clinician's request for the key of the clinical store of one clinic file on a PC
/// (`client` `partition::clinical_store`), named by the file's random device id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinicalStoreKey {
    /// The clinic file's device id: 32 lowercase hex digits.
    pub partition_id: String,
}

/// The key of a clinic file's clinical store: the same for every clinician who asks for
/// that file, released only to roles that may read clinical records.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClinicalStoreKey {
    /// 32 bytes as 64 lowercase hex digits.
    pub key: String,
}

impl std::fmt::Debug for ClinicalStoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClinicalStoreKey(..)")
    }
}

/// A number of a device's invoice series whose invoice never reached the books: the server
/// refused it and a person discarded it on the device. Recorded on the server so the
/// series shows why the number is missing (no silent gap for the accountant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CancelledInvoiceNumber {
    /// A device series (never the clinic's main series).
    pub series: String,
    pub number: i64,
    /// The discarded invoice's id.
    pub invoice_id: Uuid,
    /// Why the server refused the invoice, as the device was told.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub reason: Option<String>,
    /// When it was discarded on the device (never later than the server's clock).
    pub cancelled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewInvoice {
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    /// Series to issue from; defaults to the clinic's main series.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub series: Option<String>,
    /// Number within a device's own series (offline issue). Not allowed for the main series,
    /// whose numbers the server assigns.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub number: Option<i64>,
    /// Two-digit GST state code; defaults to the clinic's own state.
    pub place_of_supply: Option<String>,
    pub lines: Vec<NewInvoiceLine>,
    /// A business customer billed with its GSTIN (B2B); none for a patient's own bill.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub recipient: Option<InvoiceRecipient>,
    /// The doctor whose care is billed (a doctor of the clinic): named with their
    /// registration on the receipt, and the key of the collections per doctor.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub doctor_id: Option<Uuid>,
}

impl NewInvoice {
    /// The lines as the GST rules take them.
    pub fn line_inputs(&self) -> Vec<crate::gst::LineInput> {
        self.lines
            .iter()
            .map(|l| crate::gst::LineInput {
                quantity: l.quantity,
                unit_price_paise: l.unit_price_paise,
                discount_paise: l.discount_paise,
                rate_bp: l.gst_rate_bp,
            })
            .collect()
    }
}

// ---------------------------------------------------------------- audit trail

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Read,
    List,
    Create,
    Update,
    Delete,
    Export,
    Print,
    Login,
    Denied,
    /// A person discarded a change the server had rejected (uploaded from the device).
    Discard,
    /// A device removed a former member's data from the clinic's file on it (reported by
    /// the device, `DeviceWipe`).
    Wipe,
}

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Read,
        AuditAction::List,
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Export,
        AuditAction::Print,
        AuditAction::Login,
        AuditAction::Denied,
        AuditAction::Discard,
        AuditAction::Wipe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::List => "list",
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Export => "export",
            AuditAction::Print => "print",
            AuditAction::Login => "login",
            AuditAction::Denied => "denied",
            AuditAction::Discard => "discard",
            AuditAction::Wipe => "wipe",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One audit record. It names entities by id only, never patient data values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    /// Position in the clinic's hash chain (1, 2, 3 …).
    pub seq: i64,
    pub clinic_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub action: AuditAction,
    pub entity_type: String,
    pub entity_ids: Vec<Uuid>,
    pub patient_ids: Vec<Uuid>,
    pub device: Option<String>,
    pub request_id: Option<String>,
    /// When the server recorded it.
    pub at: DateTime<Utc>,
    /// When it happened on the device, for an act done offline and reported later (an
    /// offline read, a wipe): the device's time, bounded by the server's clock rules.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records that touched this patient ("who viewed this patient").
    pub patient_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A clinic (branch) as shown to its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Clinic {
    pub id: Uuid,
    pub group_id: Uuid,
    pub name: String,
    /// Supplier GSTIN printed on invoices.
    pub gstin: Option<String>,
    /// Two-digit GST state code of the clinic.
    pub state_code: String,
    pub address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collections_report_sums_per_day_and_mode() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let query = CollectionsQuery {
            from: d("2026-03-30"),
            to: d("2026-03-31"),
        };
        let report = CollectionsReport::from_sums(
            Uuid::nil(),
            &query,
            [
                (d("2026-03-30"), PaymentMethod::Cash, 2, 100_050),
                (d("2026-03-30"), PaymentMethod::Upi, 1, 50_000),
                (d("2026-03-31"), PaymentMethod::Cash, 1, 7),
            ],
        );
        assert_eq!(report.days.len(), 2);
        assert_eq!(report.days[0].total_paise, 150_050);
        assert_eq!(report.total_paise, 150_057);
        assert_eq!(
            report.by_method,
            vec![
                MethodTotal {
                    method: PaymentMethod::Cash,
                    payments: 3,
                    amount_paise: 100_057
                },
                MethodTotal {
                    method: PaymentMethod::Upi,
                    payments: 1,
                    amount_paise: 50_000
                },
            ]
        );
        let doctor = Uuid::from_u128(7);
        let mut report = report;
        report.by_doctor = vec![
            DoctorTotal {
                doctor_id: Some(doctor),
                payments: 3,
                amount_paise: 150_100,
            },
            DoctorTotal {
                doctor_id: None,
                payments: 1,
                amount_paise: -43,
            },
        ];
        let name = |id: Option<Uuid>| match id {
            Some(_) => "Dr. Asha \"Rao\"".to_owned(),
            None => "No doctor named".to_owned(),
        };
        assert_eq!(
            report.to_csv(name),
            "date,method,payments,amount_inr\n\
             2026-03-30,cash,2,1000.50\n\
             2026-03-30,upi,1,500.00\n\
             2026-03-31,cash,1,0.07\n\
             total,cash,3,1000.57\n\
             total,upi,1,500.00\n\
             doctor,\"Dr. Asha \"\"Rao\"\"\",3,1501.00\n\
             doctor,\"No doctor named\",1,-0.43\n"
        );
    }
}
