// The one list of commands the UI may invoke (no `//!`: build.rs `include!`s this file too).
// `src/lib.rs` registers exactly these with `generate_handler!`; `build.rs` gives each an
// `allow-<command>` permission and writes the `allow-app-commands` set of
// `permissions/app.toml` from it, which the main window's capability grants. A command added
// here is therefore both handled and allowed; one missing here is neither.
macro_rules! with_app_commands {
    ($then:ident) => {
        $then! {
            app_info,
            ui_ready,
            current_session,
            sign_in,
            sign_out,
            open_clinic,
            search_patients,
            get_patient,
            create_patient,
            update_patient,
            patient_chart,
            list_appointments,
            book_appointment,
            update_appointment,
            clinic_doctors,
            save_encounter,
            sign_encounter,
            add_addendum,
            issue_prescription,
            prescription_warnings,
            patient_allergies,
            record_allergy,
            update_allergy,
            create_invoice,
            add_payment,
            list_members,
            add_member,
            set_member_role,
            revoke_member,
            my_invitations,
            clinic_invitations,
            withdraw_invitation,
            answer_invitation,
            member_devices,
            audit_trail,
            collections_report,
            export_collections_csv,
            gstr1_report,
            export_gstr1,
            list_conflicts,
            resolve_conflict,
            sync_status,
            sync_now,
            record_print,
            print_page,
            unsent_changes,
            resend_change,
            discard_change,
        }
    };
}
