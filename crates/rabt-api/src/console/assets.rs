//! The console's static files, compiled into the binary: htmx 2.0.11 and its SSE
//! extension 2.2.4, vendored from their npm packages (`assets/console/`, with their
//! licences), and the console's stylesheet. Served with a long cache: their names
//! change with their versions.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

const HTMX: &[u8] = include_bytes!("../../assets/console/htmx-2.0.11.min.js");
const SSE: &[u8] = include_bytes!("../../assets/console/htmx-ext-sse-2.2.4.js");
const CSS: &[u8] = include_bytes!("../../assets/console/console.css");

/// `GET /console/static/{file}`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "sse.js" => (SSE, "text/javascript; charset=utf-8"),
        "console.css" => (CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
