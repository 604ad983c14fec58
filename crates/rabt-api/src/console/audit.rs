//! The audit log, newest first, filtered by request, cooperative, operator, action and
//! time, through `/ops/v1/audit`'s query and the store's audit listing.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::html;
use rabt_store::OperatorRole;

use super::layout;
use super::requests::{problem, time};
use super::session::Console;
use crate::ops::audit::{page, parse};
use crate::state::AppState;

/// `GET /console/audit?…`.
pub(crate) async fn list(
    State(state): State<AppState>,
    console: Console,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(refused) = console.require(OperatorRole::Viewer) {
        return refused;
    }
    let ctx = &console.ctx;
    let lang = ctx.lang;
    let raw = raw.unwrap_or_default();
    let query = match parse(&raw) {
        Ok(q) => q,
        Err(err) => return problem(ctx, &err),
    };
    let (entries, next) = match page(&state, &query).await {
        Ok(p) => p,
        Err(err) => return problem(ctx, &err),
    };
    let next_link = next.map(|seq| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()).filter(|(k, _)| k != "cursor") {
            s.append_pair(&k, &v);
        }
        s.append_pair("cursor", &seq.to_string());
        format!("/console/audit?{}", s.finish())
    });
    let body = html! {
        h1 { (lang.t("Audit log", "سجل التدقيق")) }
        form.filters method="get" action="/console/audit" role="search" {
            label { (lang.t("Request", "الطلب")) input name="request" dir="ltr" value=[query.request.map(|r| r.to_string())]; }
            label { (lang.t("Cooperative", "الجمعية")) input name="cooperative" dir="ltr" value=[query.cooperative.map(|c| c.to_string())]; }
            label { (lang.t("Operator", "المشغّل")) input name="operator" value=[query.operator.clone()]; }
            label { (lang.t("Action", "الإجراء")) input name="action" dir="ltr" value=[query.action.clone()]; }
            label { (lang.t("When", "متى"))
                select name="window" {
                    option value="" { (lang.t("any time", "أي وقت")) }
                    option value="15m" { (lang.t("last 15 min", "آخر 15 دقيقة")) }
                    option value="1h" { (lang.t("last hour", "آخر ساعة")) }
                    option value="24h" { (lang.t("last 24 h", "آخر 24 ساعة")) }
                }
            }
            button type="submit" { (lang.t("Filter", "تصفية")) }
        }
        table {
            thead { tr {
                th scope="col" { (lang.t("When", "متى")) }
                th scope="col" { (lang.t("Who", "من")) }
                th scope="col" { (lang.t("Action", "الإجراء")) }
                th scope="col" { (lang.t("Request", "الطلب")) }
                th scope="col" { (lang.t("Outcome", "النتيجة")) }
                th scope="col" { (lang.t("Detail", "التفاصيل")) }
            } }
            tbody {
                @for e in &entries {
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
        }
        @if let Some(next) = next_link { p.pager { a href=(next) { (lang.t("Older", "أقدم")) } } }
    };
    layout::page(ctx, lang.t("Audit log", "سجل التدقيق"), body)
}
