//! The operators' console at `/console/`, on the operators' listener: server-rendered
//! HTML (maud) with htmx and its SSE extension for the live overview, both vendored
//! from their npm packages (licences beside them) and compiled into the binary. No
//! build step, no CDN; every read page works without JavaScript.
//!
//! Security: a strict Content-Security-Policy (`default-src 'self'`, no inline script
//! or style), `frame-ancestors 'none'`; sessions in the database (any api process serves
//! any session) behind an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind TLS)
//! holding a random token whose digest only is stored; a CSRF token on every form that
//! changes state; failed logins limited per client; tokens never in URLs or logs. The
//! role decides what a page shows, and every action checks it again.
//!
//! The console reads what the operator API reads (`crate::ops`): the same functions
//! build the JSON of `/ops/v1` and the data of these pages.
//!
//! Layout: `i18n` (languages, numbers, times); `session` (login, logout, the
//! [`Console`] extractor, CSRF); `layout` (the page around every view); `overview`
//! (with its live feed); `requests`, `dead_letters`, `cooperatives`, `agencies`,
//! `audit`: one page family each; `assets`: the vendored files and the stylesheet.

// A refused action's error is the page that says why: a whole `Response`, which every
// handler returns anyway. Boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

mod agencies;
mod assets;
mod audit;
mod cooperatives;
mod dead_letters;
mod forms;
mod i18n;
mod layout;
mod overview;
mod requests;
mod session;

pub(crate) use session::LoginLimiter;

/// What a console handler answers: its page, or (with `?`) the page that says why
/// not — a refusal, a problem, the login. Both are whole pages.
pub(crate) type Page = Result<Response, Response>;

/// A failure of the functions the console shares with `/ops/v1`, as its problem page.
pub(crate) trait OrPage<T> {
    /// The value, or the problem page of the error.
    fn or_page(self, ctx: &layout::Ctx) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, crate::problem::ApiError> {
    fn or_page(self, ctx: &layout::Ctx) -> Result<T, Response> {
        self.map_err(|err| requests::problem_page(ctx, &err))
    }
}

/// The policy of every console answer: only this origin's scripts, styles and
/// connections (the SSE feed), images from here or `data:` (none yet), no frames.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The console's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(session::to_console))
        .route("/console/", get(overview::page))
        .route("/console/events", get(overview::events))
        .route(
            "/console/login",
            get(session::login_form).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/lang/{lang}", get(session::switch_language))
        .route("/console/static/{file}", get(assets::serve))
        .route("/console/requests", get(requests::list))
        .route("/console/requests/{id}", get(requests::show))
        .route("/console/requests/{id}/reveal", post(requests::reveal))
        .route("/console/dead-letters", get(dead_letters::list))
        .route(
            "/console/dead-letters/replay",
            post(dead_letters::replay_many),
        )
        .route("/console/dead-letters/{id}", get(dead_letters::show))
        .route(
            "/console/dead-letters/{id}/replay",
            post(dead_letters::replay),
        )
        .route(
            "/console/dead-letters/{id}/purge",
            post(dead_letters::purge),
        )
        .route(
            "/console/cooperatives",
            get(cooperatives::list).post(cooperatives::onboard),
        )
        .route("/console/cooperatives/{id}", get(cooperatives::show))
        .route(
            "/console/cooperatives/{id}/rotate",
            post(cooperatives::rotate),
        )
        .route(
            "/console/cooperatives/{id}/keys/{key}/revoke",
            post(cooperatives::revoke),
        )
        .route(
            "/console/cooperatives/{id}/services",
            post(cooperatives::services),
        )
        .route(
            "/console/cooperatives/{id}/deactivate",
            post(cooperatives::deactivate),
        )
        .route(
            "/console/cooperatives/{id}/activate",
            post(cooperatives::activate),
        )
        .route("/console/agencies", get(agencies::list))
        .route("/console/agencies/{agency}/pause", post(agencies::pause))
        .route("/console/agencies/{agency}/resume", post(agencies::resume))
        .route("/console/audit", get(audit::list))
        .layer(middleware::from_fn(secure_headers))
}

/// Headers on every console answer: the CSP, no framing, no sniffing,
/// same-origin referrers, and no caching of pages (they hold personal data and per-session tokens).
async fn secure_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/console/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Same-origin: our own form posts carry their Origin (the login checks it), and no
    // console address ever leaves for another site.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
