//! The OpenAPI document, generated from the handlers' annotations and the `shared` types,
//! served at `GET /v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vaidya API", description = "Clinic data under forced row-level security; every access is audited."),
    paths(
        routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::clinics::get_clinic,
        routes::members::list, routes::members::create, routes::members::update, routes::members::revoke,
        routes::patients::list, routes::patients::get, routes::patients::create, routes::patients::update, routes::patients::delete,
        routes::appointments::list, routes::appointments::get, routes::appointments::create, routes::appointments::update,
        routes::encounters::list, routes::encounters::get, routes::encounters::create, routes::encounters::update,
        routes::encounters::sign, routes::encounters::add_addendum,
        routes::prescriptions::list, routes::prescriptions::get, routes::prescriptions::create,
        routes::invoices::list, routes::invoices::get, routes::invoices::create, routes::invoices::add_payment, routes::invoices::cancelled_numbers, routes::device_keys::register, routes::device_keys::list, routes::device_keys::revoke, routes::device_keys::report_wipe, routes::invitations::mine, routes::invitations::accept, routes::invitations::decline,
        routes::allergies::list, routes::allergies::get, routes::allergies::create, routes::allergies::update,
        routes::audit::list,
        routes::reports::collections,
        crate::sync::push::push, crate::sync::pull::pull, crate::sync::live::live,
        crate::sync::conflicts::list, crate::sync::conflicts::resolve_handler,
    ),
    components(schemas(vaidya_shared::ApiError, vaidya_shared::ErrorCode)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

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
