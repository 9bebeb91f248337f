//! Bearer tokens with roles, and the extractors that make a handler's signature say who
//! may call it: [`VehicleAuth`] (uploads) and [`ReaderAuth`] (reads). `admin` may do both.
//!
//! Tokens are compared as SHA-256 digests with [`subtle`]: every configured token is
//! checked, in constant time, whatever matches, so timing says nothing about them.
//!
//! Browsers cannot put a bearer header on a page load or an `EventSource`, so the login
//! page keeps a reader's token in the [`TOKEN_COOKIE`] cookie. The cookie stands in for
//! the header on reads only: a browser sends it with every request, whoever caused the
//! request, so it must never authorise an upload.

use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ConfigError;
use crate::error::ApiError;
use crate::state::AppState;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Uploads batches.
    Vehicle,
    /// Reads reports, batches, the fleet.
    Reader,
    /// Both.
    Admin,
}

impl Role {
    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "vehicle" => Some(Role::Vehicle),
            "reader" => Some(Role::Reader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }
}

/// The configured tokens (their digests). Empty: the API is open.
#[derive(Clone, Default)]
pub struct Tokens(Vec<(Role, [u8; 32])>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

#[derive(Deserialize)]
struct TokenEntry {
    role: Role,
    token: String,
}

impl Tokens {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (Role, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(role, token)| (role, digest(token))).collect())
    }

    /// `role:token,role:token` (the `ARGUS_API_TOKENS` variable).
    pub fn parse_list(list: &str) -> Result<Self, ConfigError> {
        let mut tokens = Vec::new();
        for item in list.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty() && !s.starts_with('#')) {
            let (role, token) = item
                .split_once(':')
                .ok_or_else(|| ConfigError::Tokens("expected role:token, got an entry without ':'".into()))?;
            let role = Role::parse(role).ok_or_else(|| {
                ConfigError::Tokens(format!("unknown role {role:?} (vehicle, reader, admin)"))
            })?;
            if token.trim().is_empty() {
                return Err(ConfigError::Tokens("empty token".into()));
            }
            tokens.push((role, digest(token.trim())));
        }
        Ok(Self(tokens))
    }

    /// A token file: JSON `[{"role": "reader", "token": "…"}, …]`, or `role:token` lines.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Tokens(format!("cannot read {}: {e}", path.display())))?;
        if text.trim_start().starts_with('[') {
            let entries: Vec<TokenEntry> = serde_json::from_str(&text)
                .map_err(|e| ConfigError::Tokens(format!("{}: {e}", path.display())))?;
            Ok(Self(entries.iter().map(|e| (e.role, digest(&e.token))).collect()))
        } else {
            Self::parse_list(&text)
        }
    }

    /// `ARGUS_API_TOKENS` when set, else none.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("ARGUS_API_TOKENS") {
            Ok(list) => Self::parse_list(&list),
            Err(_) => Ok(Self::default()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role of a presented token, checking every configured token.
    fn role_of(&self, presented: &str) -> Option<Role> {
        let presented = digest(presented);
        let mut found = None;
        for (role, known) in &self.0 {
            if bool::from(known.ct_eq(&presented)) {
                found = found.or(Some(*role));
            }
        }
        found
    }

    /// Whether a request with this `Authorization` header may act as `needed`.
    pub fn authorize(&self, header: Option<&str>, needed: Role) -> Result<(), ApiError> {
        self.authorize_token(header.and_then(|h| h.strip_prefix("Bearer ")), needed)
    }

    /// Whether the bearer of `token` may act as `needed`.
    pub fn authorize_token(&self, token: Option<&str>, needed: Role) -> Result<(), ApiError> {
        if self.is_empty() {
            return Ok(());
        }
        let role = token.and_then(|t| self.role_of(t.trim())).ok_or(ApiError::Unauthorized)?;
        if role.allows(needed) { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// The cookie that carries a reader's token for pages (set by the login page).
pub const TOKEN_COOKIE: &str = "argus_token";

/// The token a request presents for `needed`: its bearer header, else, for reads only,
/// the login cookie.
pub(crate) fn presented_token(headers: &HeaderMap, needed: Role) -> Option<&str> {
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match bearer {
        Some(header) => header.strip_prefix("Bearer "),
        None if needed == Role::Reader => cookie(headers, TOKEN_COOKIE),
        None => None,
    }
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|list| list.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn check(parts: &Parts, state: &AppState, needed: Role) -> Result<(), ApiError> {
    state.config().tokens.authorize_token(presented_token(&parts.headers, needed), needed)
}

/// A caller allowed to upload (role `vehicle` or `admin`).
#[derive(Debug, Clone, Copy)]
pub struct VehicleAuth;

/// A caller allowed to read (role `reader` or `admin`).
#[derive(Debug, Clone, Copy)]
pub struct ReaderAuth;

impl FromRequestParts<AppState> for VehicleAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check(parts, state, Role::Vehicle).map(|()| VehicleAuth)
    }
}

impl FromRequestParts<AppState> for ReaderAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check(parts, state, Role::Reader).map(|()| ReaderAuth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_tokens() {
        let tokens = Tokens::parse_list("vehicle:v1, reader:r1,admin:a1").unwrap();
        let auth = |h: Option<&str>, role| tokens.authorize(h, role).map_err(|e| e.code());
        assert_eq!(auth(Some("Bearer v1"), Role::Vehicle), Ok(()));
        assert_eq!(auth(Some("Bearer v1"), Role::Reader), Err("forbidden"));
        assert_eq!(auth(Some("Bearer r1"), Role::Reader), Ok(()));
        assert_eq!(auth(Some("Bearer a1"), Role::Vehicle), Ok(()));
        assert_eq!(auth(Some("Bearer a1"), Role::Reader), Ok(()));
        assert_eq!(auth(Some("Bearer nope"), Role::Reader), Err("unauthorized"));
        assert_eq!(auth(Some("Basic r1"), Role::Reader), Err("unauthorized"));
        assert_eq!(auth(None, Role::Reader), Err("unauthorized"));
        assert_eq!(Tokens::default().authorize(None, Role::Vehicle).map_err(|e| e.code()), Ok(()));
        assert!(Tokens::parse_list("root:x").is_err());
        assert!(Tokens::parse_list("reader").is_err());
    }

    #[test]
    fn the_login_cookie_reads_but_never_uploads() {
        let tokens = Tokens::parse_list("reader:r1,admin:a1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; argus_token=a1".parse().unwrap());
        let auth = |headers: &HeaderMap, role| {
            tokens.authorize_token(presented_token(headers, role), role).map_err(|e| e.code())
        };
        assert_eq!(auth(&headers, Role::Reader), Ok(()));
        assert_eq!(auth(&headers, Role::Vehicle), Err("unauthorized"), "a cookie never uploads");
        headers.insert(AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(auth(&headers, Role::Reader), Err("unauthorized"), "a header, when sent, is what counts");
        assert_eq!(cookie(&HeaderMap::new(), TOKEN_COOKIE), None);
    }

    #[test]
    fn token_files_in_json_or_lines() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("tokens.json");
        std::fs::write(&json, r#"[{"role": "reader", "token": "r"}]"#).unwrap();
        assert_eq!(Tokens::from_file(&json).unwrap().role_of("r"), Some(Role::Reader));
        let lines = dir.path().join("tokens");
        std::fs::write(&lines, "# tokens\nvehicle:v\n").unwrap();
        assert_eq!(Tokens::from_file(&lines).unwrap().role_of("v"), Some(Role::Vehicle));
    }
}
