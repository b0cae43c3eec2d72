//! The list of tests and helpers they share.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use vaidya_tests::Harness;

pub type TestFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
pub type TestFn = fn(Arc<Harness>) -> TestFuture;

macro_rules! tests {
    ($($path:path),* $(,)?) => {
        pub const TESTS: &[(&str, TestFn)] = &[
            $((stringify!($path), |h| Box::pin($path(h)))),*
        ];
    };
}

tests![
    crate::desktop_updates::the_server_announces_the_desktop_release_for_each_build,
    crate::clinical_store::only_clinicians_get_a_files_clinical_store_key,
    crate::pooler::instances_behind_pgbouncer_in_transaction_mode,
    crate::registration::a_group_admin_sees_the_branches_they_administer,
    crate::catalogue::a_group_admin_keeps_one_catalogue_for_their_branches,
    crate::duplicates::a_patient_registered_twice_raises_a_duplicate_conflict,
    crate::registration::a_doctors_registration_is_recorded_by_the_admin,
    crate::catalogue::the_catalogue_is_read_by_all_and_kept_by_admins,
    crate::invoice_series::a_chartered_accountants_fixture_set_holds,
    crate::credit_notes::credit_notes_give_back_what_was_billed_and_no_more,
    crate::invoice_series::device_series_are_allocated_once_and_written_only_by_their_device,
    crate::isolation::sql_matrix,
    crate::isolation::http_matrix,
    crate::isolation::memberships_resolved_once_never_widen,
    crate::isolation::a_role_set_asked_for_later_is_resolved,
    crate::lists::patient_list_pages_by_position_and_search_matches_like_a_device,
    crate::lists::server_search_words_are_the_devices,
    crate::lists::the_list_keeps_the_devices_order_on_any_database_locale,
    crate::isolation::other_clinic_row_looks_missing,
    crate::isolation::verify_isolation_passes_on_fresh_database,
    crate::isolation::verify_isolation_names_broken_invariants,
    crate::isolation::owner_cannot_read_clinical_rows,
    crate::policies::policies_match_the_permission_table,
    crate::policies::a_hand_edited_policy_is_caught,
    crate::policies::each_condition_reads_its_own_role_sets_list,
    crate::policies::conflicts_may_name_every_entity_of_the_registry,
    crate::policies::the_databases_roles_are_the_role_enum,
    crate::pool::interleaved_clinics_on_one_connection,
    crate::pool::aborted_transaction_leaves_no_identity,
    crate::audit::reads_and_denials_are_audited,
    crate::audit::tampering_is_detected,
    crate::audit::audit_log_is_append_only_for_app_role,
    crate::audit::devices_cannot_upload_server_records,
    crate::audit::audit_chains_belong_to_real_clinics_and_their_members,
    crate::auth::adding_a_member_outside_the_group_is_an_invitation,
    crate::auth::login_refresh_logout,
    crate::authorship::a_colleagues_sync_applies_signed_work_as_its_author,
    crate::authorship::device_wipes_are_audited_once_from_who_may_report,
    crate::hubs::a_hub_reads_its_clinic_and_writes_nothing,
    crate::hubs::the_database_keeps_hubs_and_people_apart,
    crate::hubs::a_hub_relays_only_work_its_authors_signed,
    crate::hubs::a_revoked_hub_stops_at_once,
    crate::hubs::a_hub_reads_its_clinics_directory_and_no_one_else_does,
    crate::hubs::a_hub_reads_nothing_until_a_doctor_approves_it,
    crate::hubs::a_hub_relays_a_bill_of_a_pcs_own_series,
    crate::hub_replica::a_hub_keeps_a_copy_of_its_clinic,
    crate::hub_replica::a_pc_signs_in_to_its_hub_with_its_device_key,
    crate::hub_replica::a_hub_relays_past_what_the_group_server_refuses,
    crate::act_times::acts_keep_their_device_time_and_reads_their_reader_once,
    crate::auth::unknown_email_and_wrong_password_look_alike,
    crate::auth::repeated_failures_are_throttled,
    crate::auth::refresh_token_replay_revokes_session,
    crate::auth::lost_refresh_answer_keeps_the_session,
    crate::auth::throttle_holds_under_concurrency_and_spares_known_devices,
    crate::auth::revoked_membership_takes_effect_next_request,
    crate::input::malformed_input_gets_stable_codes,
    crate::input::nothing_half_written,
    crate::domain::signed_note_is_immutable_and_takes_addenda,
    crate::domain::invoice_gst_split_and_numbering,
    crate::domain::collections_report_adds_up_and_stays_in_its_branch,
    crate::domain::gstr1_reports_each_supply_and_stays_in_its_branch,
    crate::domain::an_invoice_is_refunded_then_cancelled_never_deleted,
    crate::domain::appointment_queue_transitions,
    crate::domain::openapi_document_is_served,
    crate::input::answers_and_pushes_travel_compressed,
    crate::api_fuzz::openapi_contract_holds_under_schemathesis,
    crate::allergies::allergies_noted_by_clinicians_warn_the_prescriber,
    crate::allergies::a_nurse_cannot_issue_an_invoice,
    crate::cancelled_numbers::cancelled_device_numbers_are_recorded_once_and_never_over_an_invoice,
    crate::sync::push_is_idempotent_with_per_mutation_results,
    crate::sync::merge_rules,
    crate::sync::pull_never_skips_out_of_order_commits,
    crate::sync::pull_pages_tombstones_roles_and_audit,
    crate::sync::pull_cursors_are_sealed_and_bound_to_their_clinic,
    crate::sync::live_notification_reaches_other_clients,
    crate::sync::a_revoked_members_live_stream_gets_no_more_changes,
    crate::transient::crossing_reads_and_creates_do_not_deadlock,
    crate::transient::deadlock_between_pushes_is_retried_not_stored,
    crate::transient::serialization_failure_is_retried_or_503_never_stored,
];

/// Assert with a formatted message, returning an error instead of panicking.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            anyhow::bail!($($arg)*);
        }
    };
}
