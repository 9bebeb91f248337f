//! `GET/POST /login`, `POST /logout`: keeps a reader's token in an HttpOnly cookie, so that
//! pages and their event streams can be read in a browser when the server has tokens.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{document, respond};
use super::reader::{Session, local_path};
use crate::auth::{Role, TOKEN_COOKIE};
use crate::state::AppState;

/// How long a login lasts.
const MAX_AGE_SECS: u32 = 12 * 3600;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
    next: Option<String>,
}

pub async fn form(State(state): State<AppState>, Query(query): Query<Next>) -> Response {
    let next = local_path(query.next.as_deref());
    if state.config().tokens.is_empty() {
        let main = html! {
            h1 { "Log in" }
            p { "This server needs no token: every page is open." }
            p { a href=(next) { "Continue" } }
        };
        return respond(StatusCode::OK, document("Log in", Session::NotSignedIn, main));
    }
    respond(StatusCode::OK, login_page(next, None))
}

pub async fn submit(State(state): State<AppState>, Form(login): Form<Login>) -> Response {
    let next = local_path(login.next.as_deref());
    let token = login.token.trim();
    let refused = |why: &str| respond(StatusCode::UNAUTHORIZED, login_page(next, Some(why)));
    if state.config().tokens.authorize_token(Some(token), Role::Reader).is_err() {
        return refused("That token is unknown or may not read.");
    }
    // A token the cookie syntax cannot carry as is (RFC 6265 cookie-octets).
    if !token.bytes().all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b)) {
        return refused("That token cannot be kept in a cookie; use the API with a bearer header.");
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE_SECS}");
    let mut response = Redirect::to(next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

pub async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    let cookie = format!("{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

fn login_page(next: &str, refused: Option<&str>) -> Markup {
    let main = html! {
        h1 { "Log in" }
        p { "This server has tokens. Enter a reader (or admin) token to see its pages." }
        @if let Some(why) = refused { p.error role="alert" { (why) } }
        form.stacked method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label for="token" { "Token" }
            input #token type="password" name="token" required autocomplete="current-password";
            button type="submit" { "Log in" }
        }
    };
    document("Log in", Session::NotSignedIn, main)
}
