//! A realistic clinic loaded straight into the server's tables, for benchmarks and tests
//! of the change feed: what a clinic's pull carries, at any size, in seconds.

use anyhow::Result;

/// A realistic clinic: per patient two appointments, a note with text, a prescription with
/// two items, an invoice with two lines and a payment. Names, places and texts vary the way
/// real ones do (drawn from small lists), not as random hex.
pub async fn load_clinic(
    su: &tokio_postgres::Client,
    clinic: uuid::Uuid,
    doctor: uuid::Uuid,
    patients: i64,
) -> Result<()> {
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    let stamp = "1, pg_current_xact_id(), nextval('vaidya.change_seq'), now(), now()";
    let sql = format!(
        "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth,
             phone, address, abha_number, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, g,
                (ARRAY['Asha','Ravi','Sunita','Anil','Meera','Vikram','Lakshmi','Arjun','Fatima','Joseph'])[1 + g % 10]
                  || ' ' || (ARRAY['Kulkarni','Sharma','Patil','Iyer','Reddy','Khan','Deshpande','Nair','Joshi','Das'])[1 + (g / 10) % 10],
                (ARRAY['female','male'])[1 + g % 2], date '1950-01-01' + (g * 7919 % 25000)::int,
                '+9198' || lpad((g * 104729 % 100000000)::text, 8, '0'),
                (g % 300) || ', ' || (ARRAY['MG Road','FC Road','Baner Road','Karve Nagar','Aundh'])[1 + g % 5] || ', Pune 4110' || lpad((g % 60)::text, 2, '0'),
                CASE WHEN g % 3 = 0 THEN lpad((g * 7 % 100000000000000)::text, 14, '9') END,
                {stamp}
         FROM generate_series(1, $2::bigint) g;
         INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at,
             status, reason, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, p.id, $3, now() - (p.patient_number * 13 + k) * interval '15 minutes',
                now() - (p.patient_number * 13 + k) * interval '15 minutes' + interval '15 minutes',
                (ARRAY['completed','completed','booked','no_show'])[1 + (p.patient_number + k) % 4],
                (ARRAY['Follow-up','Fever','Diabetes review','BP check','Cough and cold'])[1 + (p.patient_number + k) % 5],
                {stamp}
         FROM vaidya.patients p CROSS JOIN generate_series(1, 2) k WHERE p.clinic_id = $1;
         INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id, chief_complaint, notes,
             diagnosis, vitals, signed_at, signed_by, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, p.id, $3,
                (ARRAY['Fever for 3 days','Cough and cold','Headache','Joint pain','Follow-up of diabetes'])[1 + p.patient_number % 5],
                'Patient reports ' || (ARRAY['fever with chills since three days, no rash','dry cough worse at night, no breathlessness','throbbing headache, photophobia, no vomiting','knee pain on climbing stairs, morning stiffness','good sugar control on current dose'])[1 + p.patient_number % 5]
                  || '. On examination ' || (ARRAY['throat congested, chest clear','afebrile, chest clear','no neck stiffness','mild crepitus both knees','feet normal, pulses present'])[1 + (p.patient_number / 5) % 5]
                  || '. Advised ' || (ARRAY['fluids and rest','steam inhalation','sleep hygiene','physiotherapy','diet control and walking'])[1 + (p.patient_number / 25) % 5] || ', review in one week.',
                (ARRAY['Viral fever','Upper respiratory infection','Migraine','Osteoarthritis knee','Type 2 diabetes mellitus'])[1 + p.patient_number % 5],
                jsonb_build_object('pulse_bpm', 60 + p.patient_number % 40, 'systolic_mmhg', 110 + p.patient_number % 40,
                                   'diastolic_mmhg', 70 + p.patient_number % 20, 'temperature_dc', 365 + p.patient_number % 30),
                now(), $3, {stamp}
         FROM vaidya.patients p WHERE p.clinic_id = $1;
         WITH rx AS (
             INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, notes, issued_at,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, p.id, $3, 'Review in a week', now(), {stamp}
             FROM vaidya.patients p WHERE p.clinic_id = $1 RETURNING id)
         INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug, strength,
             dose, frequency, duration, instructions, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, rx.id, k - 1,
                (ARRAY['Paracetamol','Cetirizine','Metformin','Amlodipine'])[k + (ascii(rx.id::text) % 2) * 2],
                (ARRAY['500 mg','10 mg','500 mg','5 mg'])[k + (ascii(rx.id::text) % 2) * 2],
                '1 tablet', (ARRAY['TDS','OD','BD'])[1 + k % 3], '5 days', 'After food', {stamp}
         FROM rx CROSS JOIN generate_series(1, 2) k;
         WITH inv AS (
             INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at,
                 place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise,
                 total_paise, supplier_name, supplier_address, supplier_gstin, supplier_state,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, p.id, 'INV', p.patient_number, now(), '27', 'intra_state',
                    70000, 1800, 1800, 0, 73600, 'Arogya Clinic', '12 FC Road, Pune 411004',
                    '27AAPFA1234C1ZV', '27', {stamp}
             FROM vaidya.patients p WHERE p.clinic_id = $1 RETURNING id),
         lines AS (
             INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn,
                 quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise,
                 sgst_paise, igst_paise, total_paise, version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, inv.id, 0, 'Consultation', '999312', 1, 50000, 0, 0, 50000,
                    0, 0, 0, 50000, {stamp} FROM inv
             UNION ALL
             SELECT gen_random_uuid(), $1, inv.id, 1, 'Paracetamol 500 mg strip', '3004', 2, 10000, 0,
                    1800, 20000, 1800, 1800, 0, 23600, {stamp} FROM inv
             RETURNING 1)
         INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, reference,
             received_at, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, inv.id, 73600, 'upi', 'UPI-' || substr(md5(inv.id::text), 1, 12),
                now(), {stamp} FROM inv;"
    );
    // Our own ids and a number, never input: formatted in as literals.
    let sql = sql
        .replace("$1", &format!("'{clinic}'::uuid"))
        .replace("$2::bigint", &format!("{patients}::bigint"))
        .replace("$3", &format!("'{doctor}'::uuid"));
    su.batch_execute(&sql).await?;
    su.batch_execute("SET session_replication_role = origin; ANALYZE")
        .await?;
    Ok(())
}
