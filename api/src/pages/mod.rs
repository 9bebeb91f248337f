//! Server-rendered pages over the same store reads as the JSON routes: the fleet
//! dashboard, a batch's report, a vehicle's history, an upload form and the login form.
//! Templates are [`maud`] (checked at compile time, escaping every value); charts are
//! inline SVG ([`svg`]); the stylesheet and one small script are compiled into the binary
//! ([`assets`]). Pages read without JavaScript; the script adds live status, the fleet
//! refresh and the upload's progress.

mod assets;
mod batch;
mod diagnosis;
mod fleet;
mod format;
mod layout;
mod login;
mod parts;
mod reader;
mod svg;
mod upload;
mod vehicle;

use axum::Router;
use axum::routing::get;

pub use layout::not_found;

use crate::state::AppState;

/// Every page, and the assets they load.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(fleet::page))
        .route("/batches/{id}", get(batch::page))
        .route("/vehicles/{vin}", get(vehicle::page))
        .route("/upload", get(upload::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .route("/assets/pages.css", get(assets::stylesheet))
        .route("/assets/pages.js", get(assets::script))
}
