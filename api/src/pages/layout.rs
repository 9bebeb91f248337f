//! The frame every page shares (head, navigation, footer), the headers every page is
//! sent with, and the error pages.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::reader::Session;
use crate::error::ApiError;

/// Scripts and styles from this server only, no inline script: a value that slipped
/// past escaping still could not run.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A whole page: `title` names it in the tab and the heading; a signed-in `session` gets
/// a "Log out" button.
pub fn document(title: &str, session: Session, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Argus" }
                // No favicon request (and no 404 in the console for one).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/pages.css";
                script src="/assets/pages.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Argus" }
                    nav aria-label="Pages" {
                        a href="/" { "Fleet" }
                        a href="/upload" { "Upload" }
                    }
                    @if session == Session::SignedIn {
                        form.logout method="post" action="/logout" {
                            button #logout type="submit" { "Log out" }
                        }
                    }
                }
                main #main { (main) }
                footer { "Argus · " a href="/openapi.json" { "API" } }
            }
        }
    }
}

/// A page with its status and the headers every page carries.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Pages show data that moves; never serve one from a cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum PageError {
    /// Nothing here: a 404 page saying what was looked for.
    NotFound(String),
    /// The store or the request failed.
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::UnknownBatch(id) => PageError::NotFound(format!("There is no batch {id}.")),
            other => PageError::Api(other),
        }
    }
}

impl From<argus_sinks::StoreError> for PageError {
    fn from(error: argus_sinks::StoreError) -> Self {
        PageError::Api(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(what) => not_found_page(&what),
            PageError::Api(error) => {
                // The JSON answer logs internal causes; the page says as much as it does.
                let status = error.to_response().status();
                let main = html! {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error role="alert" { (error.to_string()) }
                    p { a href="/" { "Back to the fleet" } }
                };
                respond(
                    status,
                    document(status.canonical_reason().unwrap_or("Error"), Session::NotSignedIn, main),
                )
            }
        }
    }
}

fn not_found_page(what: &str) -> Response {
    let main = html! {
        h1 { "Not found" }
        p { (what) }
        p { a href="/" { "Back to the fleet" } }
    };
    respond(StatusCode::NOT_FOUND, document("Not found", Session::NotSignedIn, main))
}

/// The 404 page of a path no route matches.
pub fn not_found(uri: &Uri) -> Response {
    not_found_page(&format!("Nothing is served at {}.", uri.path()))
}
