//! The audit log, newest first, filtered by request, cooperative, operator, action and
//! time, through `/ops/v1/audit`'s query and the store's audit listing.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use rabt_store::{AuditQuery, OperatorRole};
use serde_json::Value;

use super::i18n::Lang;
use super::layout::{self, headings, next_page, pager, window_select};
use super::requests::{problem, time};
use super::session::Console;
use super::{OrPage, Page};
use crate::ops::audit::{page, parse};
use crate::state::AppState;

/// `GET /console/audit?…`.
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
    let query = parse(&raw).or_page(ctx)?;
    let (entries, next) = match page(&state, &query).await {
        Ok(p) => p,
        Err(err) => return Err(problem(ctx, &err)),
    };
    let window = url::form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "window")
        .map(|(_, v)| v.into_owned());
    let body = html! {
        h1 { (lang.t("Audit log", "سجل التدقيق")) }
        (filters(lang, &query, window.as_deref()))
        table {
            (headings(lang, &[("When", "متى"), ("Who", "من"), ("Action", "الإجراء"), ("Request", "الطلب"), ("Outcome", "النتيجة"), ("Detail", "التفاصيل")]))
            tbody { @for e in &entries { (row(lang, e)) } }
        }
        (pager(lang, next.map(|seq| next_page("/console/audit", &raw, &seq.to_string())), ("Older", "أقدم")))
    };
    Ok(layout::page(ctx, lang.t("Audit log", "سجل التدقيق"), body))
}

/// The filter form, showing the filter in force.
fn filters(lang: Lang, query: &AuditQuery, window: Option<&str>) -> Markup {
    html! {
        form.filters method="get" action="/console/audit" role="search" {
            label { (lang.t("Request", "الطلب")) input name="request" dir="ltr" value=[query.request.map(|r| r.to_string())]; }
            label { (lang.t("Cooperative", "الجمعية")) input name="cooperative" dir="ltr" value=[query.cooperative.map(|c| c.to_string())]; }
            label { (lang.t("Operator", "المشغّل")) input name="operator" value=[query.operator.clone()]; }
            label { (lang.t("Action", "الإجراء")) input name="action" dir="ltr" value=[query.action.clone()]; }
            (window_select(lang, window))
            button type="submit" { (lang.t("Filter", "تصفية")) }
        }
    }
}

/// One entry of the log (its `/ops/v1/audit` view).
fn row(lang: Lang, e: &Value) -> Markup {
    html! {
        tr {
            td { @if let Some(at) = time(&e["at"]) { (lang.time(at)) } }
            td { (e["actorKind"].as_str().unwrap_or("")) ": " span.mono { (e["actor"].as_str().unwrap_or("")) } }
            td { code { (e["action"].as_str().unwrap_or("")) } }
            td { @if let Some(r) = e["request"].as_str() { a.mono href=(format!("/console/requests/{r}")) { (r) } } }
            td { code { (e["outcome"].as_str().unwrap_or("")) } }
            td.mono { (e["detail"].to_string()) }
        }
    }
}
