//! Errors as `application/problem+json` (RFC 9457): a stable `type` per kind of
//! problem, a `title` in Arabic or English by `Accept-Language`, a `detail`, and for
//! validation errors the JSON Pointer of every offending field.
//!
//! Handlers return [`ApiError`]. Its response carries the [`Problem`] in an extension;
//! [`localize`] (a middleware on every route) renders it in the caller's language.
//! Internal errors are logged with their cause and answered with a bare 500: causes
//! never reach a response body.

use axum::Json;
use axum::extract::Request;
use axum::http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::lang::Lang;

/// The kinds of problem, each with a stable type URI, a status and titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// No API key, or one that is unknown or revoked.
    Unauthorized,
    /// The cooperative may not use this service.
    ServiceForbidden,
    /// No such resource (or one that belongs to another cooperative).
    NotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// `POST /v1/requests` without an `Idempotency-Key`.
    IdempotencyKeyMissing,
    /// An `Idempotency-Key` that is empty, too long or not printable ASCII.
    IdempotencyKeyInvalid,
    /// The key was used before with a different body.
    IdempotencyKeyReused,
    /// The first request with this key is still being processed.
    IdempotencyConflict,
    /// The body is not JSON.
    MalformedJson,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body exceeds the limit.
    PayloadTooLarge,
    /// The body is JSON but breaks the contract (see `errors`).
    ValidationFailed,
    /// A query parameter is wrong (see `errors`).
    InvalidQuery,
    /// The service is not in the catalogue.
    UnknownService,
    /// The service is in the catalogue but not callable in this deployment yet.
    ServiceNotAvailable,
    /// An agency callback whose signature or timestamp does not verify.
    CallbackUnverified,
    /// An agency callback whose reference matches no task waiting for this agency.
    CallbackUnknownReference,
    /// A dependency (database, broker) is down; retry later.
    Unavailable,
    /// A bug.
    Internal,
    /// The operator API without an operator token, or with an unknown one.
    OperatorUnauthorized,
    /// The operator's role is too low for this action.
    RoleForbidden,
    /// The dead letter was replayed or purged already.
    DeadLetterClosed,
    /// The dead letter names no task that a replay could run.
    DeadLetterNotReplayable,
    /// The database was busy with a concurrent change to the same rows, and trying
    /// again at once did not help; retry shortly.
    Busy,
    /// The request says one thing twice (a JSON key, the `Idempotency-Key` header), and
    /// which one counts would be a guess.
    AmbiguousRequest,
    /// The cooperative sent more requests than its rate limit allows; see `Retry-After`.
    RateLimited,
    /// The cooperative used up its quota of accepted requests for the day.
    QuotaExceeded,
    /// The request body did not arrive within the body read timeout.
    RequestTimeout,
    /// The audit log has no signed checkpoint yet (a fresh deployment); retry soon.
    AuditNotSealed,
    /// A tree size outside the sealed log (a consistency proof from a larger size, or
    /// to a size no checkpoint reached yet).
    TreeSizeOutOfRange,
    /// The API key is valid but its cooperative is deactivated.
    CooperativeInactive,
    /// A cooperative with this unified number is onboarded already.
    CooperativeExists,
    /// The API key was revoked already.
    KeyRevoked,
    /// The agency is paused or resumed already.
    AgencyPauseState,
}

impl ProblemKind {
    /// Every kind, for documentation and tests.
    pub const ALL: [ProblemKind; 34] = [
        ProblemKind::Unauthorized,
        ProblemKind::ServiceForbidden,
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::IdempotencyKeyMissing,
        ProblemKind::IdempotencyKeyInvalid,
        ProblemKind::IdempotencyKeyReused,
        ProblemKind::IdempotencyConflict,
        ProblemKind::MalformedJson,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::PayloadTooLarge,
        ProblemKind::ValidationFailed,
        ProblemKind::InvalidQuery,
        ProblemKind::UnknownService,
        ProblemKind::ServiceNotAvailable,
        ProblemKind::CallbackUnverified,
        ProblemKind::CallbackUnknownReference,
        ProblemKind::Unavailable,
        ProblemKind::Internal,
        ProblemKind::OperatorUnauthorized,
        ProblemKind::RoleForbidden,
        ProblemKind::DeadLetterClosed,
        ProblemKind::DeadLetterNotReplayable,
        ProblemKind::Busy,
        ProblemKind::AmbiguousRequest,
        ProblemKind::RateLimited,
        ProblemKind::QuotaExceeded,
        ProblemKind::RequestTimeout,
        ProblemKind::AuditNotSealed,
        ProblemKind::TreeSizeOutOfRange,
        ProblemKind::CooperativeInactive,
        ProblemKind::CooperativeExists,
        ProblemKind::KeyRevoked,
        ProblemKind::AgencyPauseState,
    ];

    /// The stable slug in the type URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::ServiceForbidden => "service-forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::IdempotencyKeyMissing => "idempotency-key-missing",
            ProblemKind::IdempotencyKeyInvalid => "idempotency-key-invalid",
            ProblemKind::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemKind::IdempotencyConflict => "idempotency-conflict",
            ProblemKind::MalformedJson => "malformed-json",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::ValidationFailed => "validation-failed",
            ProblemKind::InvalidQuery => "invalid-query",
            ProblemKind::UnknownService => "unknown-service",
            ProblemKind::ServiceNotAvailable => "service-not-available",
            ProblemKind::CallbackUnverified => "callback-unverified",
            ProblemKind::CallbackUnknownReference => "callback-unknown-reference",
            ProblemKind::Unavailable => "unavailable",
            ProblemKind::Internal => "internal",
            ProblemKind::OperatorUnauthorized => "operator-unauthorized",
            ProblemKind::RoleForbidden => "role-forbidden",
            ProblemKind::DeadLetterClosed => "dead-letter-closed",
            ProblemKind::DeadLetterNotReplayable => "dead-letter-not-replayable",
            ProblemKind::Busy => "busy",
            ProblemKind::AmbiguousRequest => "ambiguous-request",
            ProblemKind::RateLimited => "rate-limited",
            ProblemKind::QuotaExceeded => "quota-exceeded",
            ProblemKind::RequestTimeout => "request-timeout",
            ProblemKind::AuditNotSealed => "audit-not-sealed",
            ProblemKind::TreeSizeOutOfRange => "tree-size-out-of-range",
            ProblemKind::CooperativeInactive => "cooperative-inactive",
            ProblemKind::CooperativeExists => "cooperative-exists",
            ProblemKind::KeyRevoked => "key-revoked",
            ProblemKind::AgencyPauseState => "agency-pause-state",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::Unauthorized
            | ProblemKind::CallbackUnverified
            | ProblemKind::OperatorUnauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::ServiceForbidden
            | ProblemKind::RoleForbidden
            | ProblemKind::CooperativeInactive => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::IdempotencyKeyMissing
            | ProblemKind::IdempotencyKeyInvalid
            | ProblemKind::MalformedJson
            | ProblemKind::AmbiguousRequest
            | ProblemKind::InvalidQuery => StatusCode::BAD_REQUEST,
            ProblemKind::IdempotencyConflict
            | ProblemKind::DeadLetterClosed
            | ProblemKind::DeadLetterNotReplayable
            | ProblemKind::CooperativeExists
            | ProblemKind::KeyRevoked
            | ProblemKind::AgencyPauseState => StatusCode::CONFLICT,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProblemKind::IdempotencyKeyReused
            | ProblemKind::ValidationFailed
            | ProblemKind::UnknownService
            | ProblemKind::ServiceNotAvailable
            | ProblemKind::CallbackUnknownReference
            | ProblemKind::TreeSizeOutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::RateLimited | ProblemKind::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::Unavailable | ProblemKind::Busy | ProblemKind::AuditNotSealed => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The title in English and Arabic.
    pub fn titles(self) -> (&'static str, &'static str) {
        match self {
            ProblemKind::Unauthorized => (
                "Missing or invalid API key",
                "مفتاح الواجهة البرمجية مفقود أو غير صالح",
            ),
            ProblemKind::ServiceForbidden => (
                "This cooperative may not use this service",
                "لا يحق لهذه الجمعية استخدام هذه الخدمة",
            ),
            ProblemKind::NotFound => ("Not found", "غير موجود"),
            ProblemKind::MethodNotAllowed => ("Method not allowed", "الطريقة غير مسموح بها"),
            ProblemKind::IdempotencyKeyMissing => (
                "The Idempotency-Key header is required",
                "ترويسة Idempotency-Key مطلوبة",
            ),
            ProblemKind::IdempotencyKeyInvalid => (
                "The Idempotency-Key header is invalid",
                "ترويسة Idempotency-Key غير صالحة",
            ),
            ProblemKind::IdempotencyKeyReused => (
                "This Idempotency-Key was already used with a different request",
                "استُخدم مفتاح عدم التكرار هذا من قبل مع طلب مختلف",
            ),
            ProblemKind::IdempotencyConflict => (
                "A request with this Idempotency-Key is still being processed",
                "طلب بمفتاح عدم التكرار نفسه ما زال قيد المعالجة",
            ),
            ProblemKind::MalformedJson => (
                "The request body is not valid JSON",
                "محتوى الطلب ليس JSON صالحًا",
            ),
            ProblemKind::UnsupportedMediaType => (
                "The request body must be application/json",
                "يجب أن يكون محتوى الطلب بصيغة application/json",
            ),
            ProblemKind::PayloadTooLarge => (
                "The request body is too large",
                "محتوى الطلب أكبر من المسموح",
            ),
            ProblemKind::ValidationFailed => ("The request is not valid", "الطلب غير صالح"),
            ProblemKind::InvalidQuery => (
                "A query parameter is not valid",
                "أحد معاملات الاستعلام غير صالح",
            ),
            ProblemKind::UnknownService => ("Unknown service", "خدمة غير معروفة"),
            ProblemKind::ServiceNotAvailable => (
                "This service is not available yet",
                "هذه الخدمة غير متاحة بعد",
            ),
            ProblemKind::CallbackUnverified => (
                "The callback's signature or timestamp does not verify",
                "تعذر التحقق من توقيع رد الجهة أو من وقته",
            ),
            ProblemKind::CallbackUnknownReference => (
                "The callback's reference matches no request waiting for this agency",
                "مرجع رد الجهة لا يطابق أي طلب ينتظر ردها",
            ),
            ProblemKind::Unavailable => (
                "Temporarily unavailable, retry later",
                "الخدمة غير متاحة مؤقتًا، أعد المحاولة لاحقًا",
            ),
            ProblemKind::Internal => ("Internal error", "خطأ داخلي"),
            ProblemKind::OperatorUnauthorized => (
                "Missing or invalid operator token",
                "رمز المشغّل مفقود أو غير صالح",
            ),
            ProblemKind::RoleForbidden => (
                "Your operator role does not allow this action",
                "دورك كمشغّل لا يسمح بهذا الإجراء",
            ),
            ProblemKind::DeadLetterClosed => (
                "This dead letter was already replayed or purged",
                "سبقت إعادة تشغيل هذه الرسالة الميتة أو حذفها",
            ),
            ProblemKind::DeadLetterNotReplayable => (
                "This dead letter has no task that a replay could run",
                "لا توجد لهذه الرسالة الميتة مهمة يمكن إعادة تشغيلها",
            ),
            ProblemKind::Busy => (
                "Busy with a concurrent change to the same data, retry shortly",
                "مشغول بتغيير متزامن على البيانات نفسها، أعد المحاولة بعد قليل",
            ),
            ProblemKind::AmbiguousRequest => (
                "The request says the same thing twice",
                "الطلب يذكر الشيء نفسه مرتين",
            ),
            ProblemKind::RateLimited => (
                "Too many requests: this cooperative's rate limit is reached",
                "طلبات كثيرة: بلغت هذه الجمعية الحد المسموح من الطلبات",
            ),
            ProblemKind::QuotaExceeded => (
                "This cooperative's daily quota of requests is used up",
                "استنفدت هذه الجمعية حصتها اليومية من الطلبات",
            ),
            ProblemKind::RequestTimeout => (
                "The request took too long to arrive",
                "استغرق وصول الطلب وقتًا أطول من المسموح",
            ),
            ProblemKind::AuditNotSealed => (
                "The audit log has no signed checkpoint yet",
                "لا توجد بعد نقطة تحقق موقّعة لسجل التدقيق",
            ),
            ProblemKind::TreeSizeOutOfRange => (
                "The tree sizes are outside the sealed audit log",
                "أحجام الشجرة خارج سجل التدقيق المختوم",
            ),
            ProblemKind::CooperativeInactive => {
                ("This cooperative is deactivated", "هذه الجمعية موقوفة")
            }
            ProblemKind::CooperativeExists => (
                "A cooperative with this unified number exists already",
                "توجد جمعية بهذا الرقم الموحد",
            ),
            ProblemKind::KeyRevoked => (
                "This API key was revoked already",
                "سبق إلغاء مفتاح الواجهة البرمجية هذا",
            ),
            ProblemKind::AgencyPauseState => (
                "The agency is already in that state",
                "الجهة في هذه الحالة أصلًا",
            ),
        }
    }

    /// The type URI.
    pub fn type_uri(self) -> String {
        format!("urn:rabt:problem:{}", self.slug())
    }
}

/// One offending field or parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// JSON Pointer into the request body (`/input/idNumber`), or `None` for a query
    /// parameter.
    pub pointer: Option<String>,
    /// The query parameter, when the problem is in the query string.
    pub parameter: Option<String>,
    /// What is wrong, in English.
    pub detail_en: String,
    /// What is wrong, in Arabic.
    pub detail_ar: String,
}

impl FieldError {
    /// An error at a JSON Pointer of the body.
    pub fn at(pointer: impl Into<String>, en: impl Into<String>, ar: impl Into<String>) -> Self {
        Self {
            pointer: Some(pointer.into()),
            parameter: None,
            detail_en: en.into(),
            detail_ar: ar.into(),
        }
    }

    /// An error in a query parameter.
    pub fn parameter(
        name: impl Into<String>,
        en: impl Into<String>,
        ar: impl Into<String>,
    ) -> Self {
        Self {
            pointer: None,
            parameter: Some(name.into()),
            detail_en: en.into(),
            detail_ar: ar.into(),
        }
    }
}

/// A problem, before it is rendered in a language.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The detail in English and Arabic.
    pub detail: Option<(String, String)>,
    /// The offending fields.
    pub errors: Vec<FieldError>,
    /// Seconds to wait, for 503 and 429 (`Retry-After`).
    pub retry_after: Option<u64>,
    /// More response headers (the `RateLimit` fields of a 429).
    pub headers: Vec<(&'static str, String)>,
}

/// The most `errors` a problem lists: a body of 20,000 unknown keys must not get an
/// answer ten times its size. The count left out is given as `errorsOmitted`.
pub const MAX_ERRORS: usize = 20;
/// The longest text a problem echoes (a detail, a pointer, a parameter name), in
/// characters: a 200 KB key is named by its first characters.
pub const MAX_ECHO_CHARS: usize = 200;

/// `text`, cut to [`MAX_ECHO_CHARS`] with an ellipsis.
fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

impl Problem {
    /// The JSON body in `lang`.
    pub fn body(&self, lang: Lang) -> Value {
        let (title_en, title_ar) = self.kind.titles();
        let mut body = json!({
            "type": self.kind.type_uri(),
            "title": lang.pick(title_en, title_ar),
            "status": self.kind.status().as_u16(),
        });
        if let Some((en, ar)) = &self.detail {
            body["detail"] = json!(capped(lang.pick(en, ar)));
        }
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .take(MAX_ERRORS)
                .map(|e| {
                    let detail = capped(lang.pick(&e.detail_en, &e.detail_ar));
                    let mut item = json!({ "detail": detail });
                    if let Some(pointer) = &e.pointer {
                        item["pointer"] = json!(capped(pointer));
                    }
                    if let Some(parameter) = &e.parameter {
                        item["parameter"] = json!(capped(parameter));
                    }
                    item
                })
                .collect();
            body["errors"] = Value::Array(errors);
            if self.errors.len() > MAX_ERRORS {
                body["errorsOmitted"] = json!(self.errors.len() - MAX_ERRORS);
            }
        }
        body
    }

    fn render(&self, lang: Lang) -> Response {
        let mut body = self.body(lang);
        // The trace of this call, so a cooperative's report of a problem leads an
        // operator to its logs and spans.
        if let Some(trace) = rabt_trace::trace_id(&tracing::Span::current()) {
            body["traceId"] = json!(trace);
        }
        let mut response = (self.kind.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
        if matches!(
            self.kind,
            ProblemKind::Unauthorized | ProblemKind::OperatorUnauthorized
        ) {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rabt\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(*name, value);
            }
        }
        response.extensions_mut().insert(self.clone());
        response
    }
}

/// The error type of every handler.
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

impl ApiError {
    /// A problem of `kind` with no detail.
    pub fn new(kind: ProblemKind) -> Self {
        Self(Box::new(Problem {
            kind,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            headers: Vec::new(),
        }))
    }

    /// Asks the caller to come back after `seconds` (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    /// Adds a response header (`name` in lower case).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    /// Adds a detail in both languages.
    pub fn detail(mut self, en: impl Into<String>, ar: impl Into<String>) -> Self {
        self.0.detail = Some((en.into(), ar.into()));
        self
    }

    /// Adds offending fields.
    pub fn errors(mut self, errors: Vec<FieldError>) -> Self {
        self.0.errors = errors;
        self
    }

    /// A 503 asking the caller to come back after `seconds`.
    pub fn unavailable(seconds: u64) -> Self {
        Self::new(ProblemKind::Unavailable).retry_after(seconds)
    }

    /// A 500 for a bug or an unexpected failure. The cause is logged here, with the
    /// context, and never sent to the caller.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::new(ProblemKind::Internal)
    }

    /// The problem inside.
    pub fn problem(&self) -> &Problem {
        &self.0
    }

    /// The query parameters its errors name, in order: what the tests of every query
    /// parser look at.
    #[cfg(test)]
    pub(crate) fn parameters(&self) -> Vec<String> {
        self.0
            .errors
            .iter()
            .filter_map(|e| e.parameter.clone())
            .collect()
    }
}

impl From<ProblemKind> for ApiError {
    fn from(kind: ProblemKind) -> Self {
        ApiError::new(kind)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.render(Lang::En)
    }
}

/// Middleware: renders any problem in the caller's language, and turns axum's own bare
/// 404/405 answers into problems so that every error has the same shape.
pub async fn localize(request: Request, next: Next) -> Response {
    let lang = Lang::negotiate(request.headers());
    let response = next.run(request).await;
    if let Some(problem) = response.extensions().get::<Problem>() {
        return problem.render(lang);
    }
    match response.status() {
        StatusCode::NOT_FOUND if is_bare(&response) => {
            ApiError::new(ProblemKind::NotFound).0.render(lang)
        }
        StatusCode::METHOD_NOT_ALLOWED if is_bare(&response) => {
            ApiError::new(ProblemKind::MethodNotAllowed).0.render(lang)
        }
        _ => response,
    }
}

/// Whether a response is one of axum's own, without a content type.
fn is_bare(response: &Response) -> bool {
    response.headers().get(CONTENT_TYPE).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_follows_rfc_9457_in_both_languages() {
        let problem = ApiError::new(ProblemKind::ValidationFailed)
            .detail("bad input", "مدخل غير صالح")
            .errors(vec![FieldError::at(
                "/input/idNumber",
                "fails its check digit",
                "رقم التحقق غير صحيح",
            )]);
        let en = problem.problem().body(Lang::En);
        assert_eq!(en["type"], "urn:rabt:problem:validation-failed");
        assert_eq!(en["status"], 422);
        assert_eq!(en["title"], "The request is not valid");
        assert_eq!(en["errors"][0]["pointer"], "/input/idNumber");
        let ar = problem.problem().body(Lang::Ar);
        assert_eq!(ar["title"], "الطلب غير صالح");
        assert_eq!(ar["errors"][0]["detail"], "رقم التحقق غير صحيح");
    }

    #[test]
    fn an_error_list_and_what_it_echoes_are_capped() {
        let huge = "k".repeat(200_000);
        let mut errors = vec![FieldError::at(
            format!("/input/{huge}"),
            format!("unknown field `{huge}`"),
            "x",
        )];
        errors.extend((1..20_000).map(|i| FieldError::at(format!("/input/k{i}"), "unknown", "x")));
        let body = ApiError::new(ProblemKind::ValidationFailed)
            .errors(errors)
            .problem()
            .body(Lang::En);
        assert_eq!(body["errors"].as_array().unwrap().len(), MAX_ERRORS);
        assert_eq!(body["errorsOmitted"], 20_000 - MAX_ERRORS);
        let size = body.to_string().len();
        assert!(size < 20_000, "{size} bytes");
        let pointer = body["errors"][0]["pointer"].as_str().unwrap();
        assert!(pointer.starts_with("/input/kkk") && pointer.ends_with('…'));
        // Short lists are whole, and say nothing of omissions.
        let one = ApiError::new(ProblemKind::ValidationFailed)
            .errors(vec![FieldError::at("/a", "b", "c")])
            .problem()
            .body(Lang::En);
        assert_eq!(one["errors"][0]["pointer"], "/a");
        assert!(one.get("errorsOmitted").is_none());
    }

    #[test]
    fn the_api_guide_documents_every_problem_type() {
        let guide = include_str!("../../../docs/api.md");
        for kind in ProblemKind::ALL {
            let slug = kind.slug();
            assert!(
                guide.contains(&format!("| `{slug}` |")),
                "docs/api.md does not list `{slug}`"
            );
        }
    }

    #[test]
    fn every_kind_is_a_client_error_except_outages_and_bugs() {
        use ProblemKind::{AuditNotSealed, Busy, Internal, Unavailable};
        for kind in ProblemKind::ALL {
            let server_side = matches!(kind, Unavailable | Internal | Busy | AuditNotSealed);
            assert_eq!(kind.status().is_server_error(), server_side, "{kind:?}");
            let (en, ar) = kind.titles();
            assert!(!en.is_empty() && !ar.is_empty());
        }
    }
}
