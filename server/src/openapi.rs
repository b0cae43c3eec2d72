//! The OpenAPI document, generated from the handlers' annotations and the `shared` types,
//! served at `GET /v1/openapi.json`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vaidya API", description = "Clinic data under forced row-level security; every access is audited."),
    paths(
        routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::clinics::get_clinic,
        routes::members::list, routes::members::create, routes::members::update, routes::members::set_registration, routes::members::revoke,
        routes::hubs::register, routes::hubs::approve, routes::hubs::list, routes::hubs::revoke, routes::hubs::directory, routes::hubs::announce, routes::hubs::endpoints,
        routes::patients::list, routes::patients::get, routes::patients::create, routes::patients::update, routes::patients::delete,
        routes::appointments::list, routes::appointments::get, routes::appointments::create, routes::appointments::update,
        routes::encounters::list, routes::encounters::get, routes::encounters::create, routes::encounters::update,
        routes::encounters::sign, routes::encounters::add_addendum,
        routes::prescriptions::list, routes::prescriptions::get, routes::prescriptions::create,
        routes::invoices::list, routes::invoices::get, routes::invoices::create, routes::invoices::add_payment, routes::invoices::add_credit_note, routes::invoices::cancel, routes::invoices::cancelled_numbers, routes::invoices::allocate_series, routes::clinical_store::key, routes::reports::group_collections, routes::catalogue::group_list, routes::patients::merge, routes::catalogue::group_create, routes::catalogue::group_update, routes::device_keys::register, routes::device_keys::list, routes::device_keys::revoke, routes::device_keys::report_wipe, routes::invitations::mine, routes::desktop::update, routes::invitations::accept, routes::invitations::decline, routes::invitations::list_open, routes::invitations::withdraw,
        routes::allergies::list, routes::allergies::get, routes::allergies::create, routes::allergies::update, routes::catalogue::list, routes::catalogue::create, routes::catalogue::update,
        routes::audit::list,
        routes::reports::collections, routes::reports::gstr1,
        crate::sync::push::push, crate::sync::relay_answers::relay_answers, crate::sync::pull::pull, crate::sync::hub_feed::feed, routes::auth::device_challenge, routes::auth::device_login, crate::sync::live::live,
        crate::sync::conflicts::list, crate::sync::conflicts::resolve_handler,
    ),
    components(schemas(vaidya_shared::ApiError, vaidya_shared::ErrorCode, vaidya_shared::api::DesktopUpdate,
        vaidya_shared::compact_pull::PullFormat)),
    modifiers(&BearerAuth, &CommonErrors)
)]
struct ApiDoc;

/// The error answers every operation can give, added where a handler's annotation does not
/// name them, each with the `ApiError` body: a client sees every status it may get.
struct CommonErrors;

impl CommonErrors {
    fn add(op: &mut Operation, path: &str) {
        let has_input = op.request_body.is_some()
            || op.parameters.as_ref().is_some_and(|p| !p.is_empty())
            || path.contains('{');
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        if has_input {
            wanted.push((
                "400",
                "`malformed_body` (not JSON, or not the documented shape) or `invalid_parameter` (a bad path or query value)",
            ));
        }
        if op.request_body.is_some() {
            wanted.push(("413", "`body_too_large`"));
            wanted.push((
                "422",
                "`invalid_field`: a value the rules refuse; `field` names it",
            ));
        }
        if secured {
            wanted.push(("401", "`unauthenticated`: no valid session"));
        }
        if path.contains("{clinic_id}") {
            wanted.push((
                "403",
                "`forbidden`: the member's role may not do this (the refusal is audited)",
            ));
            wanted.push((
                "404",
                "`not_found`: no such record here, or not a member of this clinic (the two look alike)",
            ));
        }
        wanted.push((
            "426",
            "`upgrade_required`: the client's protocol version is too old",
        ));
        wanted.push((
            "500",
            "`internal`: logged on the server; nothing was written",
        ));
        wanted.push((
            "503",
            "`retry_later`: a passing condition; retry after `Retry-After` seconds",
        ));
        for (status, description) in wanted {
            op.responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ApiError")))
                                    .build(),
                            )
                            .build(),
                    )
                });
        }
    }
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                CommonErrors::add(op, path);
            }
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
