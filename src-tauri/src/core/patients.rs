//! Patients, appointments and the doctor picker: one-line delegations to the client core
//! (`OpenClinic` applies the shared rules) on the open partition.

use super::*;

impl Core {
    // -------------------------------------------------------------- patients

    pub async fn search_patients(
        &self,
        query: String,
        limit: i64,
    ) -> Result<Vec<Patient>, UiError> {
        self.read_partition(move |p, _, _| Ok(p.search_patients(&query, limit.clamp(1, 200))?))
            .await
    }

    pub async fn get_patient(&self, id: Uuid) -> Result<Patient, UiError> {
        self.read_partition(move |p, _, _| {
            p.get_patient(id)?
                .ok_or_else(|| UiError::new("not_found", "no such patient"))
        })
        .await
    }

    pub async fn create_patient(
        &self,
        new: vaidya_shared::api::NewPatient,
    ) -> Result<Patient, UiError> {
        self.with_clinic(move |c| Ok(c.register_patient(new)?))
            .await
    }

    /// Patients on this PC who are probably the one being registered (offline too).
    pub async fn likely_duplicates(
        &self,
        new: vaidya_shared::api::NewPatient,
    ) -> Result<Vec<vaidya_shared::rules::duplicates::LikelyDuplicate>, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).likely_duplicates(new)?)
        })
        .await
    }

    /// Merges two records of one person on the server (clinic admins; online only: a merge
    /// moves every record of the duplicate, on every PC, so the server does it once). This
    /// PC follows on the pull asked for at once.
    pub async fn merge_patients(
        &self,
        survivor: Uuid,
        duplicate: Uuid,
    ) -> Result<Patient, UiError> {
        let (api, clinic) = self.api_for(Resource::Patient, Action::Delete).await?;
        let merged = api
            .merge_patients(
                clinic,
                survivor,
                &vaidya_shared::api::MergePatients {
                    duplicate_id: duplicate,
                },
            )
            .await?;
        let _ = self.sync_now().await;
        Ok(merged)
    }

    pub async fn update_patient(&self, id: Uuid, patch: PatientPatch) -> Result<Patient, UiError> {
        self.with_clinic(move |c| Ok(c.update_patient(id, patch)?))
            .await
    }

    pub async fn patient_chart(&self, patient_id: Uuid) -> Result<PatientChart, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).patient_chart(patient_id)?)
        })
        .await
    }

    // -------------------------------------------------------------- appointments

    pub async fn list_appointments(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        doctor_id: Option<Uuid>,
    ) -> Result<Vec<AppointmentRow>, UiError> {
        self.read_partition(move |p, _, _| {
            let appointments = p.appointments_between(from, to, doctor_id)?;
            Ok(with_patients(p, appointments)?)
        })
        .await
    }

    /// The appointments a double-booking conflict names, with their patients (those no
    /// longer on this PC left out), so the inbox can show and cancel them.
    pub async fn appointments_by_id(&self, ids: Vec<Uuid>) -> Result<Vec<AppointmentRow>, UiError> {
        self.read_partition(move |p, _, _| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                found.extend(p.get_appointment(id)?);
            }
            Ok(with_patients(p, found)?)
        })
        .await
    }

    pub async fn book_appointment(&self, new: NewAppointment) -> Result<Appointment, UiError> {
        self.with_clinic(move |c| Ok(c.book_appointment(new)?))
            .await
    }

    pub async fn update_appointment(
        &self,
        id: Uuid,
        patch: AppointmentPatch,
    ) -> Result<Appointment, UiError> {
        self.with_clinic(move |c| Ok(c.update_appointment(id, patch)?))
            .await
    }

    /// Doctors of the open clinic.
    pub async fn clinic_doctors(&self) -> Result<Vec<Member>, UiError> {
        let (api, clinic, _) = self.online().await?;
        let members = match api.members(clinic).await {
            Ok(members) => {
                let kept = members.clone();
                self.with_partition(move |p, _, _| Ok(p.set_cached_members(&kept)?))
                    .await?;
                members
            }
            // Offline (or the server is unwell): the list kept from the last fetch.
            Err(e) if e.is_retryable() || matches!(e, ApiError::Unauthenticated) => {
                match self
                    .read_partition(|p, _, _| Ok(p.cached_members()?))
                    .await?
                {
                    Some(members) => members,
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(members
            .into_iter()
            .filter(|m| m.role == Role::Doctor && m.revoked_at.is_none())
            .collect())
    }
}

/// Appointments as the queue, calendar and inbox show them: with the patient's name and number.
fn with_patients(
    p: &vaidya_client::ClinicPartition,
    appointments: Vec<Appointment>,
) -> Result<Vec<AppointmentRow>, vaidya_client::PartitionError> {
    let mut rows = Vec::with_capacity(appointments.len());
    for a in appointments {
        let patient = p.get_patient(a.patient_id)?;
        rows.push(AppointmentRow {
            patient_name: patient.as_ref().map(|x| x.name.clone()),
            patient_number: patient.map(|x| x.patient_number),
            appointment: a,
        });
    }
    Ok(rows)
}

/// What a kept form becomes, so only a member who may do that keeps one: a patient's
/// registration or edit, or a bill (the partition checks the form's name itself).
fn form_permission(form: &str) -> (Resource, Action) {
    match form.split_once(':') {
        Some(("patient", "new")) => (Resource::Patient, Action::Create),
        Some(("patient", _)) => (Resource::Patient, Action::Update),
        _ => (Resource::Invoice, Action::Create),
    }
}

impl Core {
    /// Keeps what the member is typing in `form` on this PC (the clinic file), so a crash,
    /// a restart or a sign-out loses nothing. Not a save: nothing is synced.
    pub async fn keep_form_draft(
        &self,
        form: String,
        data: serde_json::Value,
    ) -> Result<(), UiError> {
        self.read_partition(move |p, user, role| {
            let (resource, action) = form_permission(&form);
            rules::authorize(role, resource, action)?;
            Ok(p.keep_form_draft(user, &form, &data)?)
        })
        .await
    }

    /// What the member was typing in `form`, if anything is kept.
    pub async fn form_draft(&self, form: String) -> Result<Option<KeptDraftView>, UiError> {
        self.read_partition(move |p, user, role| {
            let (resource, action) = form_permission(&form);
            rules::authorize(role, resource, action)?;
            Ok(p.form_draft(user, &form)?.map(|k| KeptDraftView {
                data: k.data,
                saved_at: k.saved_at,
            }))
        })
        .await
    }

    /// Forgets the kept form (saved, or thrown away).
    pub async fn drop_form_draft(&self, form: String) -> Result<(), UiError> {
        self.read_partition(move |p, user, _| Ok(p.drop_form_draft(user, &form)?))
            .await
    }
}
