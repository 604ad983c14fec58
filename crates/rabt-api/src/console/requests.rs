//! Requests: the filtered list (cooperative, service, status, verdict, last 15 min /
//! 1 h / 24 h or a range, search by id, page on) and one request with its checks, its
//! timeline from the audit log, and its input and output masked. An admin may reveal
//! them with a reason; the reveal is audited before anything is shown.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use rabt_store::OperatorRole;
use serde_json::Value;

use super::forms::Form;
use super::i18n::Lang;
use super::layout::{
    self, Ctx, badge, headings, next_page, pager, pretty, table_or_note, window_select,
};
use super::session::{Console, redirect};
use super::{OrPage, Page};
use crate::ops::requests::{RequestFilter, audit_reveal, detail, page, parse_filter};
use crate::state::AppState;

pub(crate) fn problem_page(ctx: &Ctx, err: &crate::problem::ApiError) -> Response {
    let problem = err.problem();
    let (en, ar) = problem.kind.titles();
    // A problem without a detail has its title, which the page shows above this.
    let mut detail = problem
        .detail
        .as_ref()
        .map(|(en, ar)| ctx.lang.t(en, ar).to_owned())
        .unwrap_or_default();
    for e in &problem.errors {
        let what = ctx.lang.t(&e.detail_en, &e.detail_ar);
        match e.parameter.as_ref().or(e.pointer.as_ref()) {
            Some(name) => detail.push_str(&format!(" {name}: {what}")),
            None => detail.push_str(&format!(" {what}")),
        }
    }
    layout::refusal(ctx, problem.kind.status(), ctx.lang.t(en, ar), &detail)
}

pub(crate) use problem_page as problem;

/// `GET /console/requests?…`.
pub(crate) async fn list(
    State(state): State<AppState>,
    console: Console,
    RawQuery(raw): RawQuery,
) -> Page {
    console.require(OperatorRole::Viewer)?;
    let ctx = &console.ctx;
    let lang = ctx.lang;
    // No query string is the empty one: no filter.
    let raw = raw.unwrap_or_default();
    let filter = parse_filter(&raw).or_page(ctx)?;
    if let Some(id) = filter.id {
        return Ok(redirect(&format!("/console/requests/{id}")));
    }
    let (items, next) = match page(&state, &filter).await {
        Ok(page) => page,
        Err(err) => return Err(problem_page(ctx, &err)),
    };
    let body = html! {
        h1 { (lang.t("Requests", "الطلبات")) }
        (filters(&state, lang, &filter))
        (table_or_note(
            lang,
            ("No request matches.", "لا طلب يطابق."),
            &[("Request", "الطلب"), ("Service", "الخدمة"), ("Status", "الحالة"), ("Verdict", "الحكم"), ("Accepted", "قُبل"), ("Cooperative", "الجمعية")],
            &items.iter().map(|item| row(lang, item)).collect::<Vec<_>>(),
        ))
        (pager(lang, next.map(|cursor| next_page("/console/requests", &raw, &cursor)), ("Older requests", "طلبات أقدم")))
    };
    Ok(layout::page(ctx, lang.t("Requests", "الطلبات"), body))
}

/// The filter form, showing the filter in force.
fn filters(state: &AppState, lang: Lang, filter: &RequestFilter) -> Markup {
    let q = &filter.query;
    let selected = |a: Option<&str>, b: &str| a == Some(b);
    html! {
        form.filters method="get" action="/console/requests" role="search" {
            label { (lang.t("Request id", "معرّف الطلب")) input name="id" dir="ltr" placeholder="req_…"; }
            label { (lang.t("Cooperative", "الجمعية"))
                input name="cooperative" dir="ltr" placeholder="coop_…" value=[q.cooperative.map(|c| c.to_string())]; }
            label { (lang.t("Service", "الخدمة"))
                select name="service" {
                    option value="" { (lang.t("any", "الكل")) }
                    @for s in state.catalogue().services() {
                        option value=(s.name.as_str()) selected[q.service.as_ref() == Some(&s.name)] { (s.name.as_str()) }
                    }
                }
            }
            label { (lang.t("Status", "الحالة"))
                select name="status" {
                    option value="" { (lang.t("any", "الكل")) }
                    @for s in ["ACCEPTED", "RUNNING", "COMPLETED"] {
                        option value=(s) selected[selected(q.status.map(|v| v.as_str()), s)] { (s) }
                    }
                }
            }
            label { (lang.t("Verdict", "الحكم"))
                select name="verdict" {
                    option value="" { (lang.t("any", "الكل")) }
                    @for v in ["PASS", "FAIL", "PARTIAL"] {
                        option value=(v) selected[selected(q.verdict.map(|x| x.as_str()), v)] { (v) }
                    }
                }
            }
            (window_select(lang, filter.window.as_deref()))
            label { (lang.t("From (UTC, RFC 3339)", "من (UTC، RFC 3339)")) input name="since" dir="ltr" placeholder="2026-12-07T00:00:00Z"; }
            label { (lang.t("To", "إلى")) input name="until" dir="ltr"; }
            button type="submit" { (lang.t("Filter", "تصفية")) }
        }
    }
}

fn row(lang: Lang, item: &Value) -> Markup {
    let id = item["id"].as_str().unwrap_or("");
    html! {
        tr {
            td { a.mono href=(format!("/console/requests/{id}")) { (id) } }
            td { code { (item["service"].as_str().unwrap_or("")) } }
            td { (status_badge(lang, item["status"].as_str().unwrap_or(""))) }
            td { (verdict_badge(item["verdict"].as_str())) }
            td { @if let Some(at) = time(&item["createdAt"]) { (lang.time(at)) } }
            td { a.mono href=(format!("/console/requests?cooperative={}", item["cooperative"].as_str().unwrap_or(""))) { (item["cooperative"].as_str().unwrap_or("")) } }
        }
    }
}

pub(crate) fn time(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    value
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn status_badge(lang: Lang, status: &str) -> Markup {
    match status {
        "COMPLETED" => badge("ok", lang.t("completed", "مكتمل")),
        "RUNNING" => badge("warn", lang.t("running", "جارٍ")),
        "ACCEPTED" => badge("warn", lang.t("accepted", "مقبول")),
        other => badge("off", other),
    }
}

fn verdict_badge(verdict: Option<&str>) -> Markup {
    match verdict {
        Some("PASS") => badge("ok", "PASS"),
        Some("FAIL") => badge("bad", "FAIL"),
        Some("PARTIAL") => badge("warn", "PARTIAL"),
        _ => html! { "—" },
    }
}

fn outcome_badge(outcome: Option<&str>) -> Markup {
    match outcome {
        Some("OK") => badge("ok", "OK"),
        Some(o @ ("NOT_FOUND" | "MISMATCH" | "INVALID_INPUT")) => badge("bad", o),
        Some(o) => badge("warn", o),
        None => html! { "—" },
    }
}

/// `GET /console/requests/{id}`: masked.
pub(crate) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Page {
    console.require(OperatorRole::Viewer)?;
    match detail(&state, &id, false).await {
        Ok(view) => Ok(request_page(&console.ctx, &view)),
        Err(err) => Err(problem_page(&console.ctx, &err)),
    }
}

/// `POST /console/requests/{id}/reveal` with `reason` (admin).
pub(crate) async fn reveal(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Admin, &form)?;
    let ctx = &console.ctx;
    let Some(reason) = form.text("reason").filter(|r| r.chars().count() <= 200) else {
        return Err(layout::refusal(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            ctx.lang.t("A reason is needed", "السبب مطلوب"),
            ctx.lang.t(
                "Say why you reveal this request (1 to 200 characters).",
                "اذكر سبب الكشف (من 1 إلى 200 حرف).",
            ),
        ));
    };
    if let Err(err) = detail(&state, &id, false).await {
        return Err(problem_page(ctx, &err));
    }
    if let Err(err) = audit_reveal(&state, &operator, &id, &reason).await {
        return Err(problem_page(ctx, &err));
    }
    tracing::info!(%operator, request = %id, "request revealed in the console");
    match detail(&state, &id, true).await {
        Ok(view) => Ok(request_page(ctx, &view)),
        Err(err) => Err(problem_page(ctx, &err)),
    }
}

fn request_page(ctx: &Ctx, view: &Value) -> Response {
    let lang = ctx.lang;
    let id = view["id"].as_str().unwrap_or("");
    let masked = view["masked"].as_bool().unwrap_or(true);
    let body = html! {
        h1 { (lang.t("Request", "الطلب")) " " code { (id) } }
        dl.facts {
            dt { (lang.t("Service", "الخدمة")) } dd { code { (view["service"].as_str().unwrap_or("")) } }
            dt { (lang.t("Cooperative", "الجمعية")) } dd { a.mono href=(format!("/console/cooperatives/{}", view["cooperative"].as_str().unwrap_or(""))) { (view["cooperative"].as_str().unwrap_or("")) } }
            dt { (lang.t("Status", "الحالة")) } dd #status { (status_badge(lang, view["status"].as_str().unwrap_or(""))) " " (verdict_badge(view["verdict"].as_str())) }
            dt { (lang.t("Accepted", "قُبل")) } dd { @if let Some(at) = time(&view["createdAt"]) { (lang.time(at)) } }
            dt { (lang.t("Completed", "اكتمل")) } dd { @match time(&view["completedAt"]) { Some(at) => (lang.time(at)), None => "—" } }
        }
        h2 { (lang.t("Checks", "الفحوص")) }
        (checks_table(lang, &view["checks"]))
        h2 { (lang.t("Timeline", "التسلسل الزمني")) }
        (timeline_list(lang, &view["timeline"]))
        h2 { (lang.t("Input and output", "المدخلات والمخرجات")) @if masked { " " (badge("off", lang.t("masked", "مقنّعة"))) } }
        details open {
            summary { (lang.t("Input", "المدخلات")) }
            pre #input { (pretty(&view["input"])) }
        }
        details {
            summary { (lang.t("Output", "المخرجات")) }
            pre #output { (pretty(&view["data"])) }
        }
        @if masked && ctx.can(OperatorRole::Admin) {
            form.action method="post" action=(format!("/console/requests/{id}/reveal")) {
                (ctx.csrf_field())
                label { (lang.t("Reason for revealing (audited)", "سبب الكشف (يُسجَّل في التدقيق)"))
                    input name="reason" required maxlength="200"; }
                button.danger type="submit" { (lang.t("Reveal values", "كشف القيم")) }
            }
        }
    };
    layout::page(ctx, &format!("{} {id}", lang.t("Request", "الطلب")), body)
}

/// A request's checks: each one's agency, status, outcome, attempts, latency, and why
/// it waits or failed.
fn checks_table(lang: Lang, checks: &Value) -> Markup {
    html! {
        table.checks {
            (headings(lang, &[("Check", "الفحص"), ("Agency", "الجهة"), ("Status", "الحالة"), ("Outcome", "النتيجة"), ("Attempts", "المحاولات"), ("Latency", "الزمن"), ("Note", "ملاحظة")]))
            tbody {
                @for check in checks.as_array().into_iter().flatten() {
                    tr {
                        td {
                            @match check["title"][lang.tag()].as_str() { Some(t) => (t), None => code { (check["service"].as_str().unwrap_or("")) } }
                            @if let Some(i) = check["index"].as_u64() { " #" (lang.num(i + 1)) }
                            @if check["required"] == Value::Bool(false) { " " span.note { (lang.t("(optional)", "(اختياري)")) } }
                        }
                        td { (check["agency"].as_str().unwrap_or("")) }
                        td { code { (check["status"].as_str().unwrap_or("")) } }
                        td { (outcome_badge(check["outcome"].as_str())) }
                        td { (lang.num(check["attempts"].as_u64().unwrap_or(0))) }
                        td { @if let Some(ms) = check["latencyMs"].as_u64() { (lang.num(ms)) " " (lang.t("ms", "م.ث")) } }
                        td {
                            @if let Some(w) = check.get("waiting") { (badge("warn", w["detail"][lang.tag()].as_str().unwrap_or(""))) }
                            @if let Some(e) = check["error"].as_str() { span.note { (e) } }
                        }
                    }
                }
            }
        }
    }
}

/// A request's timeline from the audit log.
fn timeline_list(lang: Lang, timeline: &Value) -> Markup {
    html! {
        ol.timeline {
            @for step in timeline.as_array().into_iter().flatten() {
                li {
                    @if let Some(at) = time(&step["at"]) { (lang.time(at)) } " — "
                    code { (step["action"].as_str().unwrap_or("")) }
                    " · " (step["actor"].as_str().unwrap_or(""))
                    @if let Some(o) = step["outcome"].as_str() { " · " code { (o) } }
                    @if let Some(ms) = step["latencyMs"].as_u64() { " · " (lang.num(ms)) " " (lang.t("ms", "م.ث")) }
                    @if let Some(task) = step["task"].as_str() { " · " span.mono { (task) } }
                }
            }
        }
    }
}
