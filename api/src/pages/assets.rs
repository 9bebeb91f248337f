//! The stylesheet and the script, compiled into the binary: pages need nothing from the
//! network.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const STYLESHEET: &str = include_str!("assets/pages.css");
const SCRIPT: &str = include_str!("assets/pages.js");

/// Assets change only with the binary; an hour keeps a deploy visible the same day.
const CACHE: &str = "public, max-age=3600";

pub async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, CACHE)], STYLESHEET)
}

pub async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, CACHE)], SCRIPT)
}
