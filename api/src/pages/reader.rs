//! Who may see a page: with tokens configured, a reader or admin, by the login cookie or
//! a bearer header; anyone else is sent to the login page and back. Whoever came in by
//! the login cookie is offered a way out ([`Session`]).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::layout::PageError;
use crate::auth::{Role, presented_token};
use crate::error::ApiError;
use crate::state::AppState;

/// A caller allowed to read pages, and how it came in.
#[derive(Debug, Clone, Copy)]
pub struct PageReader(pub Session);

/// Whether the request came in by the login cookie: its pages then show "Log out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The login cookie carries a reader's token.
    SignedIn,
    /// No tokens configured, a bearer header, or no valid cookie.
    NotSignedIn,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let tokens = &state.config().tokens;
        let by_cookie = !tokens.is_empty() && !parts.headers.contains_key(AUTHORIZATION);
        let token = presented_token(&parts.headers, Role::Reader);
        if by_cookie && tokens.authorize_token(token, Role::Reader).is_ok() {
            Ok(Session::SignedIn)
        } else {
            Ok(Session::NotSignedIn)
        }
    }
}

impl FromRequestParts<AppState> for PageReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = presented_token(&parts.headers, Role::Reader);
        match state.config().tokens.authorize_token(token, Role::Reader) {
            Ok(()) => {
                let Ok(session) = Session::from_request_parts(parts, state).await;
                Ok(PageReader(session))
            }
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
