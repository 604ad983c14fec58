//! Logging in and out, and who is at the console. A login (`POST /console/login`,
//! field `token`: an operator token) starts a session stored in the database and sets
//! a cookie with a random token (only its digest is stored). Each page reads the
//! session; a missing, unknown, expired or tampered cookie sends a page request to the
//! login form and refuses an action with `401`. Every state-changing form carries the
//! session's CSRF token, compared in constant time. Failed logins are limited per
//! client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::header::{HOST, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;
use rabt_store::{Operator, OperatorRole};
use subtle::ConstantTimeEq;

use super::forms::Form;
use super::i18n::{LANG_COOKIE, Lang, cookie};
use super::layout::{self, Ctx};
use crate::auth::{generate_secret, hash_secret};
use crate::state::AppState;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "rabt_console";
/// How long a session lasts.
pub(crate) const SESSION_LENGTH: chrono::Duration = chrono::Duration::hours(8);
/// Failed logins a client may make per window before it must wait.
const MAX_FAILURES: usize = 10;
/// The window of the login limit.
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Failed logins per client address in this process (each api process counts its
/// own: behind a balancer an attacker gets this many per process, still few).
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter(Mutex<HashMap<IpAddr, Vec<Instant>>>);

impl LoginLimiter {
    /// How long `client` must wait before trying again, if it is over the limit.
    fn wait(&self, client: IpAddr) -> Option<Duration> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let failures = map.entry(client).or_default();
        failures.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        if failures.len() >= MAX_FAILURES {
            failures
                .first()
                .map(|first| FAILURE_WINDOW.saturating_sub(now.duration_since(*first)))
        } else {
            None
        }
    }

    fn failed(&self, client: IpAddr) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bound the map: a flood of addresses cannot grow it without end.
        if map.len() > 10_000 {
            map.retain(|_, failures| !failures.is_empty());
        }
        map.entry(client).or_default().push(Instant::now());
    }
}

/// The operator at the console, with the language and the session's CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    /// What pages need to render.
    pub(crate) ctx: Ctx,
    /// Who.
    pub(crate) operator: Operator,
}

impl Console {
    /// Refuses (403, page) unless the role is at least `needed`.
    pub(crate) fn require(&self, needed: OperatorRole) -> Result<&Operator, Response> {
        if self.operator.role >= needed {
            return Ok(&self.operator);
        }
        let lang = self.ctx.lang;
        Err(layout::refusal(
            &self.ctx,
            StatusCode::FORBIDDEN,
            lang.t("Not allowed", "غير مسموح"),
            &format!(
                "{} `{needed}` · {} `{}`",
                lang.t("This needs the role", "يتطلب هذا الدور"),
                lang.t("yours is", "ودورك"),
                self.operator.role
            ),
        ))
    }

    /// What every console form's handler checks first: the operator's role (else a
    /// 403 page), then the form's CSRF token. The operator's name, for the audit entry.
    pub(crate) fn authorize_form(
        &self,
        needed: OperatorRole,
        form: &Form,
    ) -> Result<String, Response> {
        let name = self.require(needed)?.name.clone();
        self.check_csrf(form)?;
        Ok(name)
    }

    /// Checks the form's CSRF token against the session's (403 when it is missing or
    /// wrong: nothing is done).
    pub(crate) fn check_csrf(&self, form: &Form) -> Result<(), Response> {
        let given = form.get("csrf").unwrap_or("");
        let expected = self.ctx.csrf.as_deref().unwrap_or("");
        if !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Ok(());
        }
        tracing::warn!(operator = %self.operator.name, "console form refused: missing or wrong CSRF token");
        let lang = self.ctx.lang;
        Err(layout::refusal(
            &self.ctx,
            StatusCode::FORBIDDEN,
            lang.t("The form has expired", "انتهت صلاحية النموذج"),
            lang.t(
                "Reload the page and try again (the form's security token is missing or wrong).",
                "أعد تحميل الصفحة وحاول مرة أخرى (رمز الأمان في النموذج مفقود أو غير صحيح).",
            ),
        ))
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let path = parts.uri.path().to_owned();
        let anonymous = Ctx::anonymous(lang, &path);
        let token = cookie(&parts.headers, SESSION_COOKIE).filter(|t| is_token(t));
        let session = match token {
            Some(token) => state
                .store()
                .console_session(&hash_secret(&token), Utc::now())
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "cannot read a console session");
                    layout::refusal(
                        &anonymous,
                        StatusCode::SERVICE_UNAVAILABLE,
                        lang.t("The database is unavailable", "قاعدة البيانات غير متاحة"),
                        lang.t("Try again in a moment.", "حاول بعد قليل."),
                    )
                })?,
            None => None,
        };
        let Some(session) = session else {
            // A page asks to log in; an action is refused, and does nothing.
            if parts.method == axum::http::Method::GET {
                return Err(redirect("/console/login"));
            }
            return Err(layout::refusal(
                &anonymous,
                StatusCode::UNAUTHORIZED,
                lang.t("Your session has ended", "انتهت جلستك"),
                lang.t(
                    "Log in again; nothing was changed.",
                    "سجّل الدخول مرة أخرى؛ لم يتغير شيء.",
                ),
            ));
        };
        Ok(Console {
            ctx: Ctx {
                lang,
                path,
                operator: Some(session.operator.clone()),
                csrf: Some(session.csrf),
            },
            operator: session.operator,
        })
    }
}

/// Whether a cookie value can be one of our tokens (anything else is not looked up).
fn is_token(text: &str) -> bool {
    text.len() == 40 && text.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A `303 See Other` to `to`.
pub(crate) fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /console` → `/console/`.
pub(crate) async fn to_console() -> Response {
    redirect("/console/")
}

/// `GET /console/login`.
pub(crate) async fn login_form(headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    login_page(lang, StatusCode::OK, None)
}

fn login_page(lang: Lang, status: StatusCode, error: Option<&str>) -> Response {
    let ctx = Ctx::anonymous(lang, "/console/login");
    let body = html! {
        section.login aria-labelledby="login-title" {
            h1 #login-title { (lang.t("Operators' console", "وحدة تحكم المشغّلين")) }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/console/login" {
                label for="token" { (lang.t("Operator token", "رمز المشغّل")) }
                input #token name="token" type="password" autocomplete="off" required
                    spellcheck="false" dir="ltr";
                button type="submit" { (lang.t("Log in", "تسجيل الدخول")) }
            }
            p.hint { (lang.t(
                "Your token (rabt_op_…) comes from `rabt operator add`. It is never shown in an address or a log.",
                "يأتيك الرمز (rabt_op_…) من الأمر `rabt operator add`، ولا يظهر في أي عنوان أو سجل.",
            )) }
        }
    };
    let mut response = layout::page(&ctx, lang.t("Log in", "تسجيل الدخول"), body);
    *response.status_mut() = status;
    response
}

/// The client's address, when the listener recorded it.
fn client(connect: Option<&Extension<ConnectInfo<SocketAddr>>>) -> IpAddr {
    connect
        .map(|c| c.0.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Refuses a login posted from another site (login CSRF): when the browser names the
/// origin, it must be this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

/// `POST /console/login` with `token`: a login from this site and an address not
/// throttled, with an operator's token, starts a session.
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Form,
) -> Response {
    let lang = Lang::of(&headers);
    let client = client(connect.as_ref());
    let started = async {
        admit(&state, lang, &headers, client)?;
        let operator = authenticate(&state, lang, client, &form).await?;
        start_session(&state, lang, &headers, &operator).await
    };
    match started.await {
        Ok(response) | Err(response) => response,
    }
}

/// Refuses a login posted from another site, or from an address that failed too often.
fn admit(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<(), Response> {
    if !same_origin(headers) {
        return Err(login_page(
            lang,
            StatusCode::FORBIDDEN,
            Some(lang.t(
                "Log in from the console's own page.",
                "سجّل الدخول من صفحة وحدة التحكم نفسها.",
            )),
        ));
    }
    if let Some(wait) = state.logins().wait(client) {
        let mut response = login_page(
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(lang.t(
                "Too many failed logins from this address: wait a few minutes.",
                "محاولات دخول فاشلة كثيرة من هذا العنوان: انتظر بضع دقائق.",
            )),
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return Err(response);
    }
    Ok(())
}

/// The operator whose token the form holds; an unknown token counts as a failed login
/// of `client`.
async fn authenticate(
    state: &AppState,
    lang: Lang,
    client: IpAddr,
    form: &Form,
) -> Result<Operator, Response> {
    let token = form.get("token").unwrap_or("").trim();
    let operator = if token.is_empty() || token.len() > 256 {
        Ok(None)
    } else {
        state.store().operator_by_token(&hash_secret(token)).await
    };
    match operator {
        Ok(Some(operator)) => Ok(operator),
        Ok(None) => {
            state.logins().failed(client);
            tracing::info!(%client, "console login refused: unknown token");
            Err(login_page(
                lang,
                StatusCode::UNAUTHORIZED,
                Some(lang.t(
                    "This token is not an operator's token.",
                    "هذا الرمز ليس رمز مشغّل.",
                )),
            ))
        }
        Err(err) => {
            tracing::warn!(error = %err, "console login: database unavailable");
            Err(database_unavailable(lang))
        }
    }
}

/// Stores a new session of `operator` and answers with its cookie and a redirect to
/// the console.
async fn start_session(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    operator: &Operator,
) -> Result<Response, Response> {
    let session = generate_secret("");
    let csrf = generate_secret("");
    let expires = Utc::now() + SESSION_LENGTH;
    if let Err(err) = state
        .store()
        .create_console_session(&hash_secret(&session), &operator.name, &csrf, expires)
        .await
    {
        tracing::warn!(error = %err, "cannot start a console session");
        return Err(database_unavailable(lang));
    }
    tracing::info!(operator = %operator.name, "console login");
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LENGTH.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = redirect("/console/");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

/// The login page saying the database did not answer.
fn database_unavailable(lang: Lang) -> Response {
    login_page(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        Some(lang.t(
            "The database is unavailable; try again.",
            "قاعدة البيانات غير متاحة؛ حاول مرة أخرى.",
        )),
    )
}

/// `POST /console/logout` (with the CSRF token): ends the session everywhere.
pub(crate) async fn logout(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    form: Form,
) -> Response {
    if let Err(refused) = console.check_csrf(&form) {
        return refused;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(err) = state
            .store()
            .end_console_session(&hash_secret(&token))
            .await
    {
        tracing::warn!(error = %err, "cannot end a console session");
    }
    tracing::info!(operator = %console.operator.name, "console logout");
    let mut response = redirect("/console/login");
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static(
            "rabt_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

/// `GET /console/lang/{ar|en}?back=/console/…`: remembers the language in a cookie
/// and goes back (only to a console page: no open redirect).
pub(crate) async fn switch_language(
    Path(lang): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(lang) = Lang::parse(&lang) else {
        return redirect("/console/");
    };
    let back = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "back")
        .map(|(_, v)| v.into_owned())
        .filter(|b| b.starts_with("/console/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/console/".to_owned());
    let mut response = redirect(&back);
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/console; SameSite=Strict; Max-Age=31536000",
        lang.tag()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}
