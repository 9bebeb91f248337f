//! `GET /upload`: rec files dropped or chosen in the browser go through the same
//! two-phase API as `argus upload` (open a batch, one request per file, complete), with
//! each file's progress shown; the browser then lands on the batch page. With tokens
//! configured the form asks for a vehicle (or admin) token, sent as the bearer header:
//! the login cookie never authorises an upload.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{document, respond};
use super::reader::Session;
use crate::state::AppState;

pub async fn page(session: Session, State(state): State<AppState>) -> Response {
    let needs_token = !state.config().tokens.is_empty();
    let main = html! {
        h1 { "Upload rec files" }
        noscript { p.error { "Uploading from this page needs JavaScript. Without it, use "
            code { "argus upload DIR --server URL" } "." } }
        form.stacked #upload-form {
            label.drop #drop-zone for="files" {
                span { "Drop rec files here, or choose them" }
                input #files type="file" name="files" multiple accept=".rec" required;
            }
            ul #file-list aria-live="polite" {}
            label for="vehicle-id" { "Vehicle id (optional)" }
            input #vehicle-id name="vehicle_id" maxlength="256" autocomplete="off";
            label for="upload-vin" { "VIN (optional)" }
            input #upload-vin name="vin" maxlength="64" pattern="[A-Za-z0-9-]{1,64}" autocomplete="off";
            @if needs_token {
                label for="upload-token" { "Vehicle token" }
                input #upload-token type="password" name="token" required autocomplete="off";
            }
            button #upload-button type="submit" { "Upload" }
            p #upload-error.error role="alert" hidden {}
        }
    };
    respond(StatusCode::OK, document("Upload", session, main))
}
