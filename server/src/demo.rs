//! Demo data for `vaidya-server dev`: a clinic group with two branches, a user of each role,
//! and patients with a morning's appointments yesterday, today and tomorrow, relative to the
//! day `dev` starts (a demo started a week after seeding still has a today). Clinical rows
//! are written through the app role with a front-desk identity, under the same policies as
//! real use.

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
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
    let front_desk = ids[3];

    // Clinical data goes in as the front desk, through RLS.
    let mut client = app_client(&app).await?;
    let tx = client.transaction().await?;
    act_as(&tx, front_desk).await?;
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
    }
    tx.execute(
        "INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ($1, 'patient_number', $2)",
        &[&pune, &(DEMO_PATIENTS.len() as i64)],
    )
    .await?;
    tx.commit().await?;

    // A price list for each branch, added by its admin (the only role that may).
    for (clinic, admin_user) in [(pune, ids[0]), (blr, ids[4])] {
        let tx = client.transaction().await?;
        act_as(&tx, admin_user).await?;
        for (name, sac, treatment, rate, unit, price) in DEMO_CATALOGUE {
            tx.execute(
                "INSERT INTO vaidya.catalogue_items (id, clinic_id, name, sac_hsn, treatment, gst_rate_bp, unit, price_paise)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&Uuid::now_v7(), &clinic, &name, &sac, &treatment, &rate, &unit, &price],
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(true)
}

/// The demo price list: name, SAC/HSN, treatment, rate (basis points), unit, price (paise).
const DEMO_CATALOGUE: [(&str, &str, &str, i32, &str, i64); 6] = [
    ("Consultation", "999312", "exempt", 0, "NA", 50_000),
    (
        "Follow-up consultation",
        "999312",
        "exempt",
        0,
        "NA",
        30_000,
    ),
    ("Dressing (small)", "999312", "exempt", 0, "NA", 15_000),
    (
        "Chemical peel (cosmetic)",
        "999722",
        "taxable",
        1800,
        "NA",
        250_000,
    ),
    (
        "Paracetamol 500 mg, strip of 10",
        "30049099",
        "taxable",
        500,
        "PAC",
        3_000,
    ),
    ("ORS sachet", "30049099", "taxable", 500, "NOS", 2_000),
];

/// A connection of the app role: the policies apply as in real use.
async fn app_client(app: &tokio_postgres::Config) -> Result<tokio_postgres::Client> {
    let (client, conn) = app.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Acts as `user` for the rest of the transaction.
async fn act_as(tx: &tokio_postgres::Transaction<'_>, user: Uuid) -> Result<()> {
    tx.execute(
        "SELECT set_config('app.user_id', $1, true)",
        &[&user.to_string()],
    )
    .await?;
    Ok(())
}

/// India Standard Time, the clinics' clock.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("a valid offset")
}

/// 09:00 IST on `day`.
fn morning(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(9, 0, 0)
        .expect("a valid time")
        .and_local_timezone(ist())
        .single()
        .expect("IST has no gaps")
        .with_timezone(&Utc)
}

/// Books the demo patients' morning at the Pune branch for yesterday (seen), today and
/// tomorrow (booked), each day that has no appointment yet. Returns the days booked.
pub async fn book_demo_days(
    admin_url: &str,
    app: tokio_postgres::Config,
) -> Result<Vec<NaiveDate>> {
    let admin = Admin::connect(admin_url).await?;
    let ids = admin
        .client()
        .query_opt(
            "SELECT c.id,
                    (SELECT id FROM vaidya.users WHERE email = 'doctor@demo.vaidya.in'),
                    (SELECT id FROM vaidya.users WHERE email = 'frontdesk@demo.vaidya.in')
             FROM vaidya.clinics c JOIN vaidya.clinic_groups g ON g.id = c.group_id
             WHERE g.name = 'Arogya Demo Clinics' AND c.name = 'Pune – Kothrud'",
            &[],
        )
        .await?
        .context("the demo clinic is missing")?;
    let (pune, doctor, front_desk): (Uuid, Uuid, Uuid) = (ids.get(0), ids.get(1), ids.get(2));

    let mut client = app_client(&app).await?;
    let tx = client.transaction().await?;
    act_as(&tx, front_desk).await?;
    let patients: Vec<Uuid> = tx
        .query(
            "SELECT id FROM vaidya.patients WHERE clinic_id = $1 AND deleted_at IS NULL
             ORDER BY patient_number LIMIT $2",
            &[&pune, &(DEMO_PATIENTS.len() as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let today = Utc::now().with_timezone(&ist()).date_naive();
    let mut booked = Vec::new();
    for (offset, status) in [(-1, "completed"), (0, "booked"), (1, "booked")] {
        let day = today + Duration::days(offset);
        let start = morning(day);
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM vaidya.appointments
                 WHERE clinic_id = $1 AND starts_at >= $2 AND starts_at < $3",
                &[
                    &pune,
                    &(start - Duration::hours(9)),
                    &(start + Duration::hours(15)),
                ],
            )
            .await?
            .get(0);
        if taken > 0 {
            continue;
        }
        for (i, patient) in patients.iter().enumerate() {
            let starts = start + Duration::minutes(20 * i as i64);
            tx.execute(
                "INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'Consultation')",
                &[&Uuid::now_v7(), &pune, patient, &doctor, &starts, &(starts + Duration::minutes(15)), &status],
            )
            .await?;
        }
        booked.push(day);
    }
    tx.commit().await?;
    Ok(booked)
}
