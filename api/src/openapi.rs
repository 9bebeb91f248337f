//! `GET /openapi.json`, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use crate::routes::{batches, events, fleet, reports, upload, vehicles};

#[derive(OpenApi)]
#[openapi(
    info(title = "Argus API", description = "Uploads of vehicle log batches, their reports and the fleet's."),
    paths(
        batches::create,
        batches::get,
        batches::complete,
        upload::upload,
        reports::get,
        events::stream,
        fleet::top_errors,
        vehicles::batches,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
