//! Tenant isolation: the matrix of tables × operations × identities as SQL under the app
//! role, the same idea through HTTP, and `verify-isolation` against good and broken
//! databases.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_server::{migrate, verify_isolation};
use vaidya_shared::api::Role;
use vaidya_tests::{Harness, TestClinic, TestServer, World};

use crate::check;

const ALL: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse, Role::FrontDesk];
const CLIN: &[Role] = &[Role::Doctor, Role::Nurse];
const DOC: &[Role] = &[Role::Doctor];
const BILL: &[Role] = &[Role::Admin, Role::Doctor, Role::FrontDesk];
const ADM: &[Role] = &[Role::Admin];
// The readers: the same roles and the clinic's hub, which reads and never writes.
const ALL_HUB: &[Role] = &[
    Role::Admin,
    Role::Doctor,
    Role::Nurse,
    Role::FrontDesk,
    Role::Hub,
];
const CLIN_HUB: &[Role] = &[Role::Doctor, Role::Nurse, Role::Hub];
const BILL_HUB: &[Role] = &[Role::Admin, Role::Doctor, Role::FrontDesk, Role::Hub];

/// Ids of one row of every tenant table in a clinic.
pub struct Seeds {
    pub patient: Uuid,
    pub appointment: Uuid,
    pub encounter: Uuid,
    pub addendum: Uuid,
    pub prescription: Uuid,
    pub item: Uuid,
    pub invoice: Uuid,
    pub line: Uuid,
    pub payment: Uuid,
    pub catalogue_item: Uuid,
}

/// Seed one row per tenant table in a clinic (as the superuser, which skips RLS: this is
/// test setup, not the thing under test).
pub async fn seed(client: &tokio_postgres::Client, c: &TestClinic) -> Result<Seeds> {
    let s = Seeds {
        patient: Uuid::new_v4(),
        appointment: Uuid::new_v4(),
        encounter: Uuid::new_v4(),
        addendum: Uuid::new_v4(),
        prescription: Uuid::new_v4(),
        item: Uuid::new_v4(),
        invoice: Uuid::new_v4(),
        line: Uuid::new_v4(),
        payment: Uuid::new_v4(),
        catalogue_item: Uuid::new_v4(),
    };
    let (k, d) = (c.id, c.doctor.id);
    client
        .batch_execute(&format!(
            "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, abha_number) VALUES ('{p}', '{k}', 1000, 'Seed Patient', 'female', '12345678901234');
             INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ('{k}', 'patient_number', 1000), ('{k}', 'invoice:INV', 1);
             INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status) VALUES ('{a}', '{k}', '{p}', '{d}', now() + interval '1 hour', now() + interval '90 minutes', 'booked');
             INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id, notes) VALUES ('{e}', '{k}', '{p}', '{d}', 'seed note');
             INSERT INTO vaidya.encounter_addenda (id, clinic_id, encounter_id, author_id, text) VALUES ('{ad}', '{k}', '{e}', '{d}', 'seed addendum');
             INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, issued_at) VALUES ('{rx}', '{k}', '{p}', '{d}', now());
             INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug) VALUES ('{it}', '{k}', '{rx}', 0, 'Paracetamol');
             INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at, place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise)
                 VALUES ('{inv}', '{k}', '{p}', 'INV', 1, now(), '27', 'intra_state', 50000, 0, 0, 0, 50000);
             INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise)
                 VALUES ('{ln}', '{k}', '{inv}', 0, 'Consultation', '999312', 1, 50000, 0, 0, 50000, 0, 0, 0, 50000);
             INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, received_at) VALUES ('{pay}', '{k}', '{inv}', 10000, 'cash', now());
             INSERT INTO vaidya.catalogue_items (id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise) VALUES ('{cat}', '{k}', 'Consultation', '999312', 'exempt', 0, 'NA', 50000);
             SELECT vaidya.audit_append('{k}', 'create', 'patient', ARRAY['{p}'::uuid], ARRAY['{p}'::uuid]);",
            p = s.patient, a = s.appointment, e = s.encounter, ad = s.addendum, rx = s.prescription, it = s.item,
            inv = s.invoice, ln = s.line, pay = s.payment, cat = s.catalogue_item
        ))
        .await?;
    Ok(s)
}

/// One tenant table: who may read and write, and SQL for each operation against clinic `k`.
struct TableCase {
    table: &'static str,
    read: &'static [Role],
    write: &'static [Role],
    /// Updating is refused by the database even for writers (signed/issued rows).
    immutable: bool,
    insert: String,
    /// The SET clause of the update attempt (a real change, so immutability shows).
    update_col: &'static str,
    upsert: String,
}

fn cases(c: &TestClinic, other: &TestClinic, s: &Seeds) -> Vec<TableCase> {
    let (k, d) = (c.id, c.doctor.id);
    let new = Uuid::new_v4();
    let pos = rand::random::<u16>() as i32 + 1;
    vec![
        TableCase {
            table: "patients", read: ALL_HUB, write: ALL, immutable: false, update_col: "name = name || 'x'",
            insert: format!("INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex) VALUES ('{new}', '{k}', 5000, 'New', 'male')"),
            upsert: format!("INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex) VALUES ('{}', '{k}', 1000, 'Changed', 'female') ON CONFLICT (clinic_id, id) DO UPDATE SET name = EXCLUDED.name", s.patient),
        },
        TableCase {
            table: "appointments", read: ALL_HUB, write: ALL, immutable: false, update_col: "reason = coalesce(reason, '') || 'x'",
            insert: format!("INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status) VALUES ('{new}', '{k}', '{}', '{d}', now(), now() + interval '10 minutes', 'booked')", s.patient),
            upsert: format!("INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status) VALUES ('{}', '{k}', '{}', '{d}', now(), now() + interval '10 minutes', 'booked') ON CONFLICT (clinic_id, id) DO UPDATE SET reason = 'x'", s.appointment, s.patient),
        },
        TableCase {
            table: "encounters", read: CLIN_HUB, write: CLIN, immutable: false, update_col: "notes = notes || 'x'",
            insert: format!("INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id) VALUES ('{new}', '{k}', '{}', '{d}')", s.patient),
            upsert: format!("INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id) VALUES ('{}', '{k}', '{}', '{d}') ON CONFLICT (clinic_id, id) DO UPDATE SET notes = 'x'", s.encounter, s.patient),
        },
        TableCase {
            table: "encounter_addenda", read: CLIN_HUB, write: CLIN, immutable: true, update_col: "text = text || 'x'",
            insert: format!("INSERT INTO vaidya.encounter_addenda (id, clinic_id, encounter_id, author_id, text) VALUES ('{new}', '{k}', '{}', '{d}', 'more')", s.encounter),
            upsert: format!("INSERT INTO vaidya.encounter_addenda (id, clinic_id, encounter_id, author_id, text) VALUES ('{}', '{k}', '{}', '{d}', 'more') ON CONFLICT (clinic_id, id) DO UPDATE SET text = 'x'", s.addendum, s.encounter),
        },
        TableCase {
            table: "prescriptions", read: CLIN_HUB, write: DOC, immutable: true, update_col: "notes = notes || 'x'",
            insert: format!("INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, issued_at) VALUES ('{new}', '{k}', '{}', '{d}', now())", s.patient),
            upsert: format!("INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, issued_at) VALUES ('{}', '{k}', '{}', '{d}', now()) ON CONFLICT (clinic_id, id) DO UPDATE SET notes = 'x'", s.prescription, s.patient),
        },
        TableCase {
            table: "prescription_items", read: CLIN_HUB, write: DOC, immutable: true, update_col: "drug = drug || 'x'",
            insert: format!("INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug) VALUES ('{new}', '{k}', '{}', {pos}, 'Ibuprofen')", s.prescription),
            upsert: format!("INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug) VALUES ('{}', '{k}', '{}', 0, 'Ibuprofen') ON CONFLICT (clinic_id, id) DO UPDATE SET drug = 'x'", s.item, s.prescription),
        },
        TableCase {
            table: "invoices", read: BILL_HUB, write: BILL, immutable: true, update_col: "series = series || 'X'",
            insert: format!("INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at, place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise) VALUES ('{new}', '{k}', '{}', 'INV', {pos}, now(), '27', 'intra_state', 0, 0, 0, 0, 0)", s.patient),
            upsert: format!("INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at, place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise) VALUES ('{}', '{k}', '{}', 'INV', 1, now(), '27', 'intra_state', 0, 0, 0, 0, 0) ON CONFLICT (clinic_id, id) DO UPDATE SET total_paise = 0", s.invoice, s.patient),
        },
        TableCase {
            table: "invoice_lines", read: BILL_HUB, write: BILL, immutable: true, update_col: "description = description || 'x'",
            insert: format!("INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise) VALUES ('{new}', '{k}', '{}', {pos}, 'X', '999312', 1, 0, 0, 0, 0, 0, 0, 0, 0)", s.invoice),
            upsert: format!("INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise, sgst_paise, igst_paise, total_paise) VALUES ('{}', '{k}', '{}', 0, 'X', '999312', 1, 0, 0, 0, 0, 0, 0, 0, 0) ON CONFLICT (clinic_id, id) DO UPDATE SET total_paise = 0", s.line, s.invoice),
        },
        TableCase {
            table: "payments", read: BILL_HUB, write: BILL, immutable: true, update_col: "reference = coalesce(reference, '') || 'x'",
            insert: format!("INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, received_at) VALUES ('{new}', '{k}', '{}', 100, 'upi', now())", s.invoice),
            upsert: format!("INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, received_at) VALUES ('{}', '{k}', '{}', 100, 'upi', now()) ON CONFLICT (clinic_id, id) DO UPDATE SET amount_paise = 1", s.payment, s.invoice),
        },
        TableCase {
            table: "catalogue_items", read: ALL_HUB, write: ADM, immutable: false, update_col: "name = name || 'x'",
            insert: format!("INSERT INTO vaidya.catalogue_items (id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise) VALUES ('{new}', '{k}', 'Dressing', '3005', 'taxable', 500, 'NOS', 10000)"),
            upsert: format!("INSERT INTO vaidya.catalogue_items (id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise) VALUES ('{}', '{k}', 'Consultation', '999312', 'exempt', 0, 'NA', 1) ON CONFLICT (clinic_id, id) DO UPDATE SET price_paise = 1", s.catalogue_item),
        },
        TableCase {
            table: "clinic_counters", read: ALL, write: ALL, immutable: false, update_col: "value = value + 1",
            insert: format!("INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ('{k}', 'c{pos}', 1)"),
            upsert: format!("INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ('{k}', 'patient_number', 1) ON CONFLICT (clinic_id, counter) DO UPDATE SET value = vaidya.clinic_counters.value + 1"),
        },
        TableCase {
            table: "memberships", read: ALL_HUB, write: ADM, immutable: false, update_col: "role = role",
            insert: format!("INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ('{new}', '{k}', '{}', 'admin')", other.desk.id),
            upsert: format!("INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ('{new}', '{k}', '{}', 'admin') ON CONFLICT (clinic_id, user_id) DO UPDATE SET role = 'admin'", c.desk.id),
        },
        TableCase {
            table: "audit_log", read: ADM, write: &[], immutable: false, update_col: "action = action",
            insert: format!("INSERT INTO vaidya.audit_log (clinic_id, seq, action, entity_type, at, hash) VALUES ('{k}', 999999, 'read', 'patient', now(), '\\x00')"),
            upsert: format!("INSERT INTO vaidya.audit_log (clinic_id, seq, action, entity_type, at, hash) VALUES ('{k}', 1, 'read', 'patient', now(), '\\x00') ON CONFLICT (clinic_id, seq) DO UPDATE SET action = 'read'"),
        },
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Select,
    Insert,
    Update,
    Delete,
    Upsert,
}

/// How a transaction's identity is set.
#[derive(Debug, Clone, Copy)]
enum SetIdentity {
    /// As the server does: `vaidya.set_identity`, which also resolves the user's clinics
    /// once for the transaction's policies.
    AsServer,
    /// A bare `set_config('app.user_id', …)`: the policies must fall back to reading
    /// memberships, never to another identity's clinics.
    BareSetting,
}

/// Run one statement as `identity` in its own transaction, rolled back afterwards.
/// Returns rows affected (or the count for a SELECT), or the SQLSTATE of the error.
async fn attempt(
    client: &mut tokio_postgres::Client,
    how: SetIdentity,
    identity: &str,
    sql: &str,
    select: bool,
) -> Result<std::result::Result<i64, String>> {
    let tx = client.transaction().await?;
    let set = match how {
        SetIdentity::AsServer => "SELECT vaidya.set_identity(nullif($1, '')::uuid)",
        SetIdentity::BareSetting => "SELECT set_config('app.user_id', $1, true)",
    };
    tx.execute(set, &[&identity]).await?;
    let outcome = if select {
        tx.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0))
    } else {
        tx.execute(sql, &[]).await.map(|n| n as i64)
    };
    let outcome = outcome.map_err(|e| {
        e.code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| e.to_string())
    });
    tx.rollback().await?;
    Ok(outcome)
}

/// Every tenant table × select/insert/update/delete/upsert × identities, as SQL under the
/// app role. Only an active member with the right role may see or write clinic A's rows.
pub async fn sql_matrix(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    let s = seed(&su, &w.a).await?;
    seed(&su, &w.b).await?;
    let mut app = w.db.app().await?;

    let identities: Vec<(&str, String, Option<Role>)> = vec![
        ("admin of A", w.a.admin.id.to_string(), Some(Role::Admin)),
        ("doctor of A", w.a.doctor.id.to_string(), Some(Role::Doctor)),
        ("nurse of A", w.a.nurse.id.to_string(), Some(Role::Nurse)),
        (
            "front desk of A",
            w.a.desk.id.to_string(),
            Some(Role::FrontDesk),
        ),
        ("hub of A", w.a.hub.to_string(), Some(Role::Hub)),
        ("admin of B", w.b.admin.id.to_string(), None),
        ("doctor of B", w.b.doctor.id.to_string(), None),
        ("hub of B", w.b.hub.to_string(), None),
        ("revoked member of A", w.a.revoked.id.to_string(), None),
        ("unknown user", Uuid::new_v4().to_string(), None),
        ("no identity", String::new(), None),
    ];
    let mut count = 0;
    let mut failures = Vec::new();
    for case in cases(&w.a, &w.b, &s) {
        let t = case.table;
        let k = w.a.id;
        let ops = [
            // Everyone may see their own membership row (revoked ones too); count the others.
            (
                Op::Select,
                if t == "memberships" {
                    format!("SELECT count(*) FROM vaidya.{t} WHERE clinic_id = '{k}' AND user_id IS DISTINCT FROM vaidya.current_user_id()")
                } else {
                    format!("SELECT count(*) FROM vaidya.{t} WHERE clinic_id = '{k}'")
                },
            ),
            (Op::Insert, case.insert.clone()),
            (
                Op::Update,
                format!(
                    "UPDATE vaidya.{t} SET {} WHERE clinic_id = '{k}'",
                    case.update_col
                ),
            ),
            (
                Op::Delete,
                format!("DELETE FROM vaidya.{t} WHERE clinic_id = '{k}'"),
            ),
            (Op::Upsert, case.upsert.clone()),
        ];
        for (op, sql) in &ops {
            for ((who, id, role), how) in identities
                .iter()
                .flat_map(|i| [(i, SetIdentity::AsServer), (i, SetIdentity::BareSetting)])
            {
                count += 1;
                let roles = if *op == Op::Select {
                    case.read
                } else {
                    case.write
                };
                let allowed = *op != Op::Delete && role.is_some_and(|r| roles.contains(&r));
                let outcome = attempt(&mut app, how, id, sql, *op == Op::Select).await?;
                let ok = match (op, allowed, &outcome) {
                    (Op::Select, true, Ok(n)) => *n > 0,
                    (Op::Select, false, Ok(n)) => *n == 0,
                    (Op::Insert, true, Ok(1)) => true,
                    (Op::Update | Op::Upsert, true, Ok(n)) => !case.immutable && *n >= 1,
                    (Op::Update | Op::Upsert, true, Err(code)) => case.immutable && code == "VD001",
                    (Op::Update, false, Ok(0)) => true,
                    // Refused: RLS violation or no privilege (42501).
                    (Op::Insert | Op::Update | Op::Delete | Op::Upsert, false, Err(code)) => {
                        code == "42501"
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!(
                        "{t} {op:?} as {who} ({how:?}): allowed={allowed}, got {outcome:?}"
                    ));
                }
            }
        }
    }
    println!(
        "isolation matrix (SQL): {count} cases, {} failures",
        failures.len()
    );
    check!(
        failures.is_empty(),
        "isolation failures:\n{}",
        failures.join("\n")
    );
    // Nothing was committed, so clinic A's rows are untouched.
    let name: String = su
        .query_one(
            "SELECT name FROM vaidya.patients WHERE id = $1",
            &[&s.patient],
        )
        .await?
        .get(0);
    check!(name == "Seed Patient", "seed patient changed to {name}");
    Ok(())
}

/// The same idea through HTTP: every resource × operation × identity, counted.
pub async fn http_matrix(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    let s = seed(&su, &w.a).await?;
    let server = TestServer::spawn(&w.db, 8).await?;
    let anon = server.client();
    let k = w.a.id;
    let starts = chrono::Utc::now() + chrono::Duration::days(1);
    let ends = starts + chrono::Duration::minutes(15);

    struct Req {
        name: &'static str,
        method: reqwest::Method,
        path: String,
        body: Option<serde_json::Value>,
        roles: &'static [Role],
    }
    use reqwest::Method as M;
    let p = s.patient;
    let reqs = vec![
        Req {
            name: "list patients",
            method: M::GET,
            path: format!("/v1/clinics/{k}/patients"),
            body: None,
            roles: ALL_HUB,
        },
        Req {
            name: "get patient",
            method: M::GET,
            path: format!("/v1/clinics/{k}/patients/{p}"),
            body: None,
            roles: ALL_HUB,
        },
        Req {
            name: "create patient",
            method: M::POST,
            path: format!("/v1/clinics/{k}/patients"),
            body: Some(json!({"name": "Meera", "sex": "female"})),
            roles: ALL,
        },
        Req {
            name: "update patient",
            method: M::PATCH,
            path: format!("/v1/clinics/{k}/patients/{p}"),
            body: Some(json!({"address": "Pune"})),
            roles: ALL,
        },
        Req {
            name: "list appointments",
            method: M::GET,
            path: format!("/v1/clinics/{k}/appointments"),
            body: None,
            roles: ALL_HUB,
        },
        Req {
            name: "get appointment",
            method: M::GET,
            path: format!("/v1/clinics/{k}/appointments/{}", s.appointment),
            body: None,
            roles: ALL_HUB,
        },
        Req {
            name: "create appointment",
            method: M::POST,
            path: format!("/v1/clinics/{k}/appointments"),
            body: Some(
                json!({"patient_id": p, "doctor_id": w.a.doctor.id, "starts_at": starts, "ends_at": ends}),
            ),
            roles: ALL,
        },
        Req {
            name: "update appointment",
            method: M::PATCH,
            path: format!("/v1/clinics/{k}/appointments/{}", s.appointment),
            body: Some(json!({"reason": "Fever"})),
            roles: ALL,
        },
        Req {
            name: "list encounters",
            method: M::GET,
            path: format!("/v1/clinics/{k}/encounters?patient_id={p}"),
            body: None,
            roles: CLIN_HUB,
        },
        Req {
            name: "get encounter",
            method: M::GET,
            path: format!("/v1/clinics/{k}/encounters/{}", s.encounter),
            body: None,
            roles: CLIN_HUB,
        },
        Req {
            name: "create encounter",
            method: M::POST,
            path: format!("/v1/clinics/{k}/encounters"),
            body: Some(json!({"patient_id": p, "notes": "BP ok"})),
            roles: CLIN,
        },
        Req {
            name: "update encounter",
            method: M::PATCH,
            path: format!("/v1/clinics/{k}/encounters/{}", s.encounter),
            body: Some(json!({"notes": "edited"})),
            roles: CLIN,
        },
        Req {
            name: "list prescriptions",
            method: M::GET,
            path: format!("/v1/clinics/{k}/prescriptions"),
            body: None,
            roles: CLIN_HUB,
        },
        Req {
            name: "get prescription",
            method: M::GET,
            path: format!("/v1/clinics/{k}/prescriptions/{}", s.prescription),
            body: None,
            roles: CLIN_HUB,
        },
        Req {
            name: "create prescription",
            method: M::POST,
            path: format!("/v1/clinics/{k}/prescriptions"),
            body: Some(
                json!({"patient_id": p, "items": [{"drug": "Amoxicillin", "strength": "500 mg", "dose": "1 cap", "frequency": "TDS", "duration": "5 days"}]}),
            ),
            roles: DOC,
        },
        Req {
            name: "list invoices",
            method: M::GET,
            path: format!("/v1/clinics/{k}/invoices"),
            body: None,
            roles: BILL_HUB,
        },
        Req {
            name: "get invoice",
            method: M::GET,
            path: format!("/v1/clinics/{k}/invoices/{}", s.invoice),
            body: None,
            roles: BILL_HUB,
        },
        Req {
            name: "create invoice",
            method: M::POST,
            path: format!("/v1/clinics/{k}/invoices"),
            body: Some(
                json!({"patient_id": p, "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50000, "gst_rate_bp": 0}]}),
            ),
            roles: BILL,
        },
        Req {
            name: "list members",
            method: M::GET,
            path: format!("/v1/clinics/{k}/members"),
            body: None,
            roles: ALL_HUB,
        },
        Req {
            name: "read audit trail",
            method: M::GET,
            path: format!("/v1/clinics/{k}/audit"),
            body: None,
            roles: ADM,
        },
        Req {
            name: "get clinic",
            method: M::GET,
            path: format!("/v1/clinics/{k}"),
            body: None,
            roles: ALL_HUB,
        },
    ];

    let mut identities = Vec::new();
    for role in [Role::Admin, Role::Doctor, Role::Nurse, Role::FrontDesk] {
        let p = w.a.person(role);
        identities.push((
            format!("{} of A", role.as_str()),
            Some(anon.login(&p.email, &p.password).await?.0),
            Some(role),
            true,
        ));
    }
    let hub_of_a = server
        .login_as(&w.a.admin)
        .await?
        .register_hub(w.a.id, "Hub of A", &server.login_as(&w.a.doctor).await?)
        .await?
        .0;
    let hub_of_b = server
        .login_as(&w.b.admin)
        .await?
        .register_hub(w.b.id, "Hub of B", &server.login_as(&w.b.doctor).await?)
        .await?
        .0;
    identities.push(("hub of A".into(), Some(hub_of_a), Some(Role::Hub), true));
    identities.push(("hub of B".into(), Some(hub_of_b), None, true));
    identities.push((
        "admin of B".into(),
        Some(anon.login(&w.b.admin.email, &w.b.admin.password).await?.0),
        None,
        true,
    ));
    identities.push((
        "doctor of B".into(),
        Some(anon.login(&w.b.doctor.email, &w.b.doctor.password).await?.0),
        None,
        true,
    ));
    // The revoked member signs in fine (they belong to no clinic now) but sees nothing of A.
    identities.push((
        "revoked member of A".into(),
        Some(
            anon.login(&w.a.revoked.email, &w.a.revoked.password)
                .await?
                .0,
        ),
        None,
        true,
    ));
    identities.push(("no token".into(), Some(anon.clone()), None, false));

    let mut count = 0;
    let mut failures = Vec::new();
    for r in &reqs {
        for (who, client, role, signed_in) in &identities {
            let client = client.as_ref().expect("client");
            count += 1;
            let (status, body) = client
                .send(r.method.clone(), &r.path, r.body.clone())
                .await?;
            let expected = match role {
                Some(role) if r.roles.contains(role) => None, // any 2xx
                Some(_) => Some(StatusCode::FORBIDDEN),
                None if *signed_in => Some(StatusCode::NOT_FOUND),
                None => Some(StatusCode::UNAUTHORIZED),
            };
            let ok = match expected {
                None => status.is_success(),
                Some(code) => status == code,
            };
            // A refused caller learns nothing: no ids, names or rows in the body.
            let leaked = !status.is_success()
                && (body.to_string().contains(&p.to_string())
                    || body.to_string().contains("Seed Patient"));
            if !ok || leaked {
                failures.push(format!(
                    "{} as {who}: expected {expected:?}, got {status} {body}",
                    r.name
                ));
            }
        }
    }
    println!(
        "isolation matrix (HTTP): {count} cases, {} failures",
        failures.len()
    );
    check!(
        failures.is_empty(),
        "HTTP isolation failures:\n{}",
        failures.join("\n")
    );
    Ok(())
}

/// The clinics `set_identity` resolves once per transaction never outlive the identity
/// they were resolved for: another identity set in the same transaction sees only its own
/// clinics, and the current user's membership changed in the transaction takes effect at
/// once (revoked: nothing more; role changed: the new role's rows).
pub async fn memberships_resolved_once_never_widen(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    let s = seed(&su, &w.a).await?;
    seed(&su, &w.b).await?;
    let mut app = w.db.app().await?;
    let count = |table: &str, clinic: Uuid| {
        format!("SELECT count(*) FROM vaidya.{table} WHERE clinic_id = '{clinic}'")
    };

    // A's doctor, then B's doctor by a bare setting: B's doctor sees B, never A.
    let tx = app.transaction().await?;
    tx.execute("SELECT vaidya.set_identity($1)", &[&w.a.doctor.id])
        .await?;
    let a_as_a: i64 = tx
        .query_one(&count("encounters", w.a.id), &[])
        .await?
        .get(0);
    tx.execute(
        "SELECT set_config('app.user_id', $1, true)",
        &[&w.b.doctor.id.to_string()],
    )
    .await?;
    let a_as_b: i64 = tx
        .query_one(&count("encounters", w.a.id), &[])
        .await?
        .get(0);
    let b_as_b: i64 = tx
        .query_one(&count("encounters", w.b.id), &[])
        .await?
        .get(0);
    tx.rollback().await?;
    check!(a_as_a == 1, "A's doctor sees {a_as_a} of A's notes");
    check!(
        a_as_b == 0 && b_as_b == 1,
        "after switching to B's doctor: {a_as_b} of A's notes, {b_as_b} of B's"
    );

    // An admin who revokes their own membership sees nothing more in the same transaction.
    let tx = app.transaction().await?;
    tx.execute("SELECT vaidya.set_identity($1)", &[&w.a.admin.id])
        .await?;
    let before: i64 = tx.query_one(&count("patients", w.a.id), &[]).await?.get(0);
    let revoked = tx
        .execute(
            "UPDATE vaidya.memberships SET revoked_at = now() WHERE clinic_id = $1 AND user_id = $2",
            &[&w.a.id, &w.a.admin.id],
        )
        .await?;
    let after: i64 = tx.query_one(&count("patients", w.a.id), &[]).await?.get(0);
    tx.rollback().await?;
    check!(
        before == 1 && revoked == 1 && after == 0,
        "admin revoking themselves: {before} patients before, {revoked} row revoked, {after} after"
    );

    // An admin who makes themselves a doctor reads notes from then on (and not before).
    let tx = app.transaction().await?;
    tx.execute("SELECT vaidya.set_identity($1)", &[&w.a.admin.id])
        .await?;
    let before: i64 = tx
        .query_one(&count("encounters", w.a.id), &[])
        .await?
        .get(0);
    tx.execute(
        "UPDATE vaidya.memberships SET role = 'doctor' WHERE clinic_id = $1 AND user_id = $2",
        &[&w.a.id, &w.a.admin.id],
    )
    .await?;
    let after: i64 = tx
        .query_one(
            "SELECT count(*) FROM vaidya.encounters WHERE id = $1",
            &[&s.encounter],
        )
        .await?
        .get(0);
    tx.rollback().await?;
    check!(
        before == 0 && after == 1,
        "admin turned doctor: {before} notes before, {after} after"
    );
    Ok(())
}

/// Another clinic's row and a missing row get the same 404, byte for byte.
pub async fn other_clinic_row_looks_missing(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let s = seed(&w.db.superuser().await?, &w.a).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let (b, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let kb = w.b.id;
    let theirs = b
        .get(&format!("/v1/clinics/{kb}/patients/{}", s.patient))
        .await?;
    let missing = b
        .get(&format!("/v1/clinics/{kb}/patients/{}", Uuid::new_v4()))
        .await?;
    check!(
        theirs.0 == StatusCode::NOT_FOUND,
        "expected 404, got {:?}",
        theirs
    );
    check!(
        theirs == missing,
        "another clinic's row {theirs:?} differs from a missing row {missing:?}"
    );
    // Pointing B's new appointment at A's patient fails like a missing patient.
    let starts = chrono::Utc::now();
    let (status, body) = b
        .post(&format!("/v1/clinics/{kb}/appointments"),
              json!({"patient_id": s.patient, "doctor_id": w.b.doctor.id, "starts_at": starts, "ends_at": starts + chrono::Duration::minutes(10)}))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["code"] == "invalid_field",
        "cross-clinic reference: {status} {body}"
    );
    // An ABHA number used in A is free in B: uniqueness is scoped by clinic, so it reveals nothing.
    let (status, body) = b
        .post(
            &format!("/v1/clinics/{kb}/patients"),
            json!({"name": "Other", "sex": "male", "abha_number": "12345678901234"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED,
        "ABHA uniqueness leaked across clinics: {status} {body}"
    );
    Ok(())
}

pub async fn verify_isolation_passes_on_fresh_database(h: Arc<Harness>) -> Result<()> {
    let db = h.database().await?;
    let client = migrate::connect(&db.admin_url).await?;
    let violations = verify_isolation::verify(&client).await?;
    check!(
        violations.is_empty(),
        "fresh database has violations: {violations:#?}"
    );
    Ok(())
}

/// Break each invariant in turn and check `verify-isolation` names it.
pub async fn verify_isolation_names_broken_invariants(h: Arc<Harness>) -> Result<()> {
    let breaks: &[(&str, &str)] = &[
        ("ALTER TABLE vaidya.patients NO FORCE ROW LEVEL SECURITY", "vaidya.patients: row level security is not forced"),
        ("ALTER TABLE vaidya.invoices DISABLE ROW LEVEL SECURITY", "vaidya.invoices: row level security is not enabled"),
        ("GRANT TRUNCATE ON vaidya.appointments TO vaidya_app", "may TRUNCATE vaidya.appointments"),
        ("GRANT CREATE ON SCHEMA vaidya TO vaidya_app", "can CREATE in schema vaidya"),
        ("GRANT DELETE ON vaidya.patients TO vaidya_app", "may DELETE from vaidya.patients"),
        ("GRANT EXECUTE ON FUNCTION vaidya.audit_append(uuid, text, text, uuid[], uuid[], timestamptz) TO PUBLIC", "executable by PUBLIC"),
        ("ALTER FUNCTION vaidya.member_clinics(text[]) RESET search_path", "has no fixed search_path"),
        ("CREATE VIEW vaidya.all_patients AS SELECT * FROM vaidya.patients", "is not security_invoker"),
        ("ALTER TABLE vaidya.audit_log DISABLE TRIGGER audit_append_only", "guard triggers are missing or disabled"),
        ("CREATE TABLE vaidya.notes_extra (clinic_id uuid, body text)", "vaidya.notes_extra: row level security is not enabled"),
        ("CREATE UNIQUE INDEX patients_phone_unique ON vaidya.patients (phone)", "does not start with clinic_id"),
        ("CREATE UNIQUE INDEX patients_bare_id ON vaidya.patients (id);
          ALTER TABLE vaidya.appointments ADD CONSTRAINT appointments_any_patient
              FOREIGN KEY (patient_id) REFERENCES vaidya.patients (id)",
         "foreign key appointments_any_patient on vaidya.appointments points into vaidya.patients without pairing clinic_id"),
        ("CREATE FUNCTION vaidya.clinic_size(p_clinic uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER
              SET search_path = pg_catalog, pg_temp
              AS $$ SELECT count(*) FROM vaidya.patients WHERE clinic_id = p_clinic $$",
         "takes a clinic but never checks the caller's membership"),
    ];
    for (sql, expected) in breaks {
        let db = h.database().await?;
        let client = migrate::connect(&db.admin_url).await?;
        client.batch_execute(sql).await?;
        let violations = verify_isolation::verify(&client).await?;
        check!(
            violations.iter().any(|v| v.contains(expected)),
            "after `{sql}` expected a violation containing `{expected}`, got {violations:#?}"
        );
    }
    Ok(())
}

/// FORCE makes even the schema owner obey the policies: it sees no clinical rows.
pub async fn owner_cannot_read_clinical_rows(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    seed(&su, &w.a).await?;
    su.batch_execute("SET ROLE vaidya_owner").await?;
    for t in [
        "patients",
        "appointments",
        "encounters",
        "prescriptions",
        "invoices",
        "payments",
    ] {
        let n: i64 = su
            .query_one(&format!("SELECT count(*) FROM vaidya.{t}"), &[])
            .await?
            .get(0);
        check!(n == 0, "owner sees {n} rows of {t}");
    }
    Ok(())
}

/// A policy for a set of roles no policy asked about before (a later migration's) is resolved
/// by `set_identity` at once: `member_clinics_expr` registers the set and writes the function
/// again. Without that, the set's list would be missing and its members would read nothing;
/// with a wrong list, others would read. A user with different roles in two clinics reads
/// each clinic by the role held there.
pub async fn a_role_set_asked_for_later_is_resolved(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    // A's desk is made B's doctor too: one person, a different role in each clinic.
    su.execute(
        "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role)
         VALUES (gen_random_uuid(), $1, $2, 'doctor')",
        &[&w.b.id, &w.a.desk.id],
    )
    .await?;
    su.batch_execute(&format!(
        "SET ROLE vaidya_owner;
         CREATE TABLE vaidya.nurses_board (clinic_id uuid NOT NULL, note text NOT NULL);
         ALTER TABLE vaidya.nurses_board ENABLE ROW LEVEL SECURITY;
         ALTER TABLE vaidya.nurses_board FORCE ROW LEVEL SECURITY;
         GRANT SELECT ON vaidya.nurses_board TO vaidya_app;
         DO $$ BEGIN
           EXECUTE format('CREATE POLICY member_select ON vaidya.nurses_board FOR SELECT TO vaidya_app
                           USING (clinic_id = ANY (%s))', vaidya.member_clinics_expr('{{nurse,front_desk}}'));
         END $$;
         CREATE POLICY owner_all ON vaidya.nurses_board TO vaidya_owner USING (true) WITH CHECK (true);
         INSERT INTO vaidya.nurses_board VALUES ('{a}', 'A'), ('{b}', 'B');
         RESET ROLE;",
        a = w.a.id,
        b = w.b.id
    ))
    .await?;
    let mut app = w.db.app().await?;
    let mut read = async |user: Uuid, sql: &str| -> Result<Vec<String>> {
        let tx = app.transaction().await?;
        tx.execute("SELECT vaidya.set_identity($1)", &[&user])
            .await?;
        let rows = tx.query(sql, &[]).await?;
        tx.rollback().await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    };
    let board = "SELECT note FROM vaidya.nurses_board ORDER BY note";
    let nurse = read(w.a.nurse.id, board).await?;
    let desk = read(w.a.desk.id, board).await?;
    let doctor = read(w.a.doctor.id, board).await?;
    check!(
        nurse == ["A"] && desk == ["A"] && doctor.is_empty(),
        "the new role set: A's nurse read {nurse:?}, A's desk (B's doctor) {desk:?}, A's doctor {doctor:?}"
    );
    // The same person through the shipped policies: patients of both clinics, the notes of
    // B only (a doctor there, the desk in A).
    let notes = format!(
        "SELECT clinic_id::text FROM vaidya.encounters WHERE clinic_id IN ('{}', '{}') ORDER BY 1",
        w.a.id, w.b.id
    );
    seed(&su, &w.a).await?;
    seed(&su, &w.b).await?;
    let patients = format!(
        "SELECT DISTINCT clinic_id::text FROM vaidya.patients WHERE clinic_id IN ('{}', '{}') ORDER BY 1",
        w.a.id, w.b.id
    );
    let mut both = vec![w.a.id.to_string(), w.b.id.to_string()];
    both.sort();
    let read_patients = read(w.a.desk.id, &patients).await?;
    let read_notes = read(w.a.desk.id, &notes).await?;
    check!(
        read_patients == both && read_notes == [w.b.id.to_string()],
        "desk of A and doctor of B: patients of {read_patients:?}, notes of {read_notes:?}"
    );
    Ok(())
}
