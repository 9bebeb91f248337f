//! Who may see a page: with tokens configured, a reader or admin, by the login cookie or
//! a bearer header; anyone else is sent to the login page and back.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::layout::PageError;
use crate::auth::{Role, presented_token};
use crate::error::ApiError;
use crate::state::AppState;

/// A caller allowed to read pages.
#[derive(Debug, Clone, Copy)]
pub struct PageReader;

impl FromRequestParts<AppState> for PageReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = presented_token(&parts.headers, Role::Reader);
        match state.config().tokens.authorize_token(token, Role::Reader) {
            Ok(()) => Ok(PageReader),
            Err(ApiError::Unauthorized) => {
                let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                Err(Redirect::to(&format!("/login?next={}", percent_encode(here))).into_response())
            }
            Err(other) => Err(PageError::Api(other).into_response()),
        }
    }
}

/// `text` safe inside a query value: every byte but unreserved ones and `/` escaped.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Where to go after logging in: a path on this server, else the fleet page. Anything
/// else (`//host`, `https://…`) would make the login form an open redirect.
pub fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(local_path(Some("/batches/x?y=1")), "/batches/x?y=1");
        for away in ["//evil.example/", "https://evil.example/", "/\\evil.example", "batches"] {
            assert_eq!(local_path(Some(away)), "/", "{away}");
        }
        assert_eq!(local_path(None), "/");
        assert_eq!(percent_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
