//! Demo data for `vaidya-server dev`: a clinic group with two branches, a user of each role,
//! and a morning's patients and appointments. Clinical rows are written through the app role
//! with a front-desk identity, under the same policies as real use.

use anyhow::Result;
use chrono::{Duration, Timelike, Utc};
use uuid::Uuid;
use vaidya_shared::api::Role;

use crate::admin::Admin;

/// One demo sign-in, printed at start so a new user can sign in.
pub struct DemoUser {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
    pub branch: &'static str,
}

pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        email: "admin@demo.vaidya.in",
        password: "demo-admin-pass",
        role: Role::Admin,
        branch: "Pune – Kothrud",
    },
    DemoUser {
        email: "doctor@demo.vaidya.in",
        password: "demo-doctor-pass",
        role: Role::Doctor,
        branch: "Pune – Kothrud",
    },
    DemoUser {
        email: "nurse@demo.vaidya.in",
        password: "demo-nurse-pass",
        role: Role::Nurse,
        branch: "Pune – Kothrud",
    },
    DemoUser {
        email: "frontdesk@demo.vaidya.in",
        password: "demo-frontdesk-pass",
        role: Role::FrontDesk,
        branch: "Pune – Kothrud",
    },
    DemoUser {
        email: "blr.admin@demo.vaidya.in",
        password: "demo-admin-pass",
        role: Role::Admin,
        branch: "Bengaluru – Indiranagar",
    },
    DemoUser {
        email: "blr.doctor@demo.vaidya.in",
        password: "demo-doctor-pass",
        role: Role::Doctor,
        branch: "Bengaluru – Indiranagar",
    },
];

const DEMO_PATIENTS: &[(&str, &str, &str)] = &[
    ("Aarav Sharma", "male", "+919812345601"),
    ("Priya Deshpande", "female", "+919812345602"),
    ("Rohan Kulkarni", "male", "+919812345603"),
    ("Sneha Patil", "female", "+919812345604"),
    ("Vikram Joshi", "male", "+919812345605"),
    ("Ananya Iyer", "female", "+919812345606"),
];

/// Seed once: does nothing when the demo group already exists. Returns whether it seeded.
pub async fn seed(admin_url: &str, app: tokio_postgres::Config) -> Result<bool> {
    let admin = Admin::connect(admin_url).await?;
    let exists = admin
        .client()
        .query_opt(
            "SELECT 1 FROM vaidya.clinic_groups WHERE name = 'Arogya Demo Clinics'",
            &[],
        )
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let group = admin.create_group("Arogya Demo Clinics").await?;
    let pune = admin
        .create_clinic(
            group,
            "Pune – Kothrud",
            "27",
            Some("27AAPFA1234C1ZV"),
            "12 Karve Road, Kothrud, Pune 411038",
        )
        .await?;
    let blr = admin
        .create_clinic(
            group,
            "Bengaluru – Indiranagar",
            "29",
            Some("29AAPFA1234C1ZR"),
            "80 Feet Road, Indiranagar, Bengaluru 560038",
        )
        .await?;
    let names = [
        "Dr. Admin Mehta",
        "Dr. Asha Rao",
        "Nurse Kavita Nair",
        "Rahul (Front desk)",
        "Dr. Admin Reddy",
        "Dr. Suresh Gowda",
    ];
    let mut ids = Vec::new();
    for (u, name) in DEMO_USERS.iter().zip(names) {
        let id = admin.create_user(u.email, name, u.password).await?;
        let clinic = if u.branch.starts_with("Pune") {
            pune
        } else {
            blr
        };
        admin.add_member(clinic, u.email, u.role).await?;
        ids.push(id);
    }
    let (doctor, front_desk) = (ids[1], ids[3]);

    // Clinical data goes in as the front desk, through RLS.
    let mut client = {
        let (c, conn) = app.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        c
    };
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT set_config('app.user_id', $1, true)",
        &[&front_desk.to_string()],
    )
    .await?;
    let day_start = Utc::now()
        .with_hour(3)
        .and_then(|t| t.with_minute(30))
        .unwrap_or_else(Utc::now); // 09:00 IST
    for (i, (name, sex, phone)) in DEMO_PATIENTS.iter().enumerate() {
        let patient = Uuid::now_v7();
        tx.execute(
            "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, phone, date_of_birth)
             VALUES ($1, $2, $3, $4, $5, $6, current_date - (($7::int) * interval '1 year'))",
            &[&patient, &pune, &(i as i64 + 1), name, sex, phone, &(25 + 7 * i as i32)],
        )
        .await?;
        tx.execute(
            "SELECT vaidya.audit_append($1, 'create', 'patient', ARRAY[$2::uuid], ARRAY[$2::uuid])",
            &[&pune, &patient],
        )
        .await?;
        let starts = day_start + Duration::minutes(20 * i as i64);
        tx.execute(
            "INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status, reason)
             VALUES ($1, $2, $3, $4, $5, $6, 'booked', 'Consultation')",
            &[&Uuid::now_v7(), &pune, &patient, &doctor, &starts, &(starts + Duration::minutes(15))],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ($1, 'patient_number', $2)",
        &[&pune, &(DEMO_PATIENTS.len() as i64)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
