//! Dead letters: list and filter, inspect one, replay one, replay every open one a
//! filter selects (an agency, a time window) after a confirmation that says how many,
//! and purge (admin). Every action takes a reason, written to the audit log with the
//! operator's name beside the store's own entry of the replay or purge.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use rabt_core::Agency;
use rabt_store::{Actor, DeadLetterQuery, DeadLetterState, NewAuditEntry, OperatorRole};
use serde_json::{Value, json};

use super::forms::Form;
use super::layout::{self, Ctx, agency_select, badge, danger_form, pager, table_or_note};
use super::requests::{problem, time};
use super::session::{Console, redirect};
use super::{OrPage, Page};
use crate::ops::dead_letters::{find, purge_one, replay_one};
use crate::ops::query::DeadLetterParams;
use crate::ops::{retrying, view};
use crate::query::Paged;
use crate::state::AppState;

/// The most dead letters one bulk replay takes on.
const MAX_BULK: usize = 1000;

/// `GET /console/dead-letters?agency=&state=`.
pub(crate) async fn list(
    State(state): State<AppState>,
    console: Console,
    RawQuery(raw): RawQuery,
) -> Page {
    console.require(OperatorRole::Viewer)?;
    let ctx = &console.ctx;
    let lang = ctx.lang;
    let params = DeadLetterParams::parse(&without_empty(raw.as_deref())).or_page(ctx)?;
    let query = DeadLetterQuery {
        agency: params.agency,
        state: params.state,
        before: params.cursor,
        limit: params.limit + 1,
    };
    let items = match retrying("listing dead letters", || {
        state.store().list_dead_letters(&query)
    })
    .await
    {
        Ok(items) => items,
        Err(err) => return Err(problem(ctx, &err)),
    };
    let page = Paged::of(items, params.limit);
    let next = page.next(|l| params.next_link(l.id));
    let rows: Vec<Markup> = page
        .items
        .iter()
        .map(|l| row(ctx, &view::summary(l)))
        .collect();
    let body = html! {
        h1 { (lang.t("Dead letters", "الرسائل الميتة")) }
        (filters(ctx, &params))
        @if ctx.can(OperatorRole::Operator) { (bulk_replay_form(ctx, params.agency)) }
        (table_or_note(
            lang,
            ("No dead letter matches.", "لا رسالة ميتة تطابق."),
            &[("Dead letter", "الرسالة"), ("Agency", "الجهة"), ("State", "الحالة"), ("Reason", "السبب"), ("Dead at", "وقت الموت"), ("Request", "الطلب")],
            &rows,
        ))
        (pager(lang, next.map(|next| next.replace("/ops/v1/", "/console/")), ("Older", "أقدم")))
    };
    Ok(layout::page(
        ctx,
        lang.t("Dead letters", "الرسائل الميتة"),
        body,
    ))
}

/// The query without its empty parameters: the filter form sends `agency=` for "all".
fn without_empty(raw: Option<&str>) -> String {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !v.is_empty() {
            kept.append_pair(&k, &v);
        }
    }
    kept.finish()
}

/// The filter form, showing the filter in force.
fn filters(ctx: &Ctx, params: &DeadLetterParams) -> Markup {
    let lang = ctx.lang;
    let state_name = params.state.map_or("all", DeadLetterState::as_str);
    html! {
        form.filters method="get" action="/console/dead-letters" {
            (agency_select(lang, params.agency))
            label { (lang.t("State", "الحالة"))
                select name="state" {
                    @for s in ["open", "replayed", "purged", "all"] { option value=(s) selected[state_name == s] { (s) } }
                }
            }
            button type="submit" { (lang.t("Filter", "تصفية")) }
        }
    }
}

/// The form that counts the open dead letters of an agency and a time window, for a
/// confirmation before they are replayed.
fn bulk_replay_form(ctx: &Ctx, agency: Option<Agency>) -> Markup {
    let lang = ctx.lang;
    html! {
        form.action method="post" action="/console/dead-letters/replay" {
            (ctx.csrf_field())
            strong { (lang.t("Replay every open one that", "إعادة تشغيل كل رسالة مفتوحة")) }
            (agency_select(lang, agency))
            label { (lang.t("Dead since (RFC 3339, optional)", "ميتة منذ (اختياري)")) input name="since" dir="ltr"; }
            label { (lang.t("Dead before (optional)", "ميتة قبل (اختياري)")) input name="until" dir="ltr"; }
            label { (lang.t("Reason (audited)", "السبب (يُسجَّل)")) input name="reason" required maxlength="200"; }
            button type="submit" { (lang.t("Count and confirm…", "العدّ والتأكيد…")) }
        }
    }
}

/// One dead letter of the list (its `/ops/v1` summary).
fn row(ctx: &Ctx, l: &Value) -> Markup {
    html! {
        tr {
            td { a.mono href=(format!("/console/dead-letters/{}", l["id"].as_str().unwrap_or(""))) { (l["id"].as_str().unwrap_or("")) } }
            td { (l["agency"].as_str().unwrap_or("")) }
            td { (state_badge(ctx, l["state"].as_str().unwrap_or(""))) }
            td { code { (l["reason"].as_str().unwrap_or("")) } }
            td { @if let Some(at) = time(&l["deadAt"]) { (ctx.lang.time(at)) } }
            td { @if let Some(r) = l["request"].as_str() { a.mono href=(format!("/console/requests/{r}")) { (r) } } }
        }
    }
}

fn state_badge(ctx: &Ctx, state: &str) -> maud::Markup {
    match state {
        "open" => badge("bad", ctx.lang.t("open", "مفتوحة")),
        "replayed" => badge("ok", ctx.lang.t("replayed", "أُعيدت")),
        _ => badge("off", ctx.lang.t("purged", "محذوفة")),
    }
}

/// `GET /console/dead-letters/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Page {
    console.require(OperatorRole::Viewer)?;
    let ctx = &console.ctx;
    let lang = ctx.lang;
    let letter = match find(&state, &id).await {
        Ok(letter) => view::full(&letter),
        Err(err) => return Err(problem(ctx, &err)),
    };
    let open = letter["state"] == "open";
    let body = html! {
        h1 { (lang.t("Dead letter", "رسالة ميتة")) " " code { (id) } }
        dl.facts {
            dt { (lang.t("Agency", "الجهة")) } dd { (letter["agency"].as_str().unwrap_or("")) }
            dt { (lang.t("State", "الحالة")) } dd { (state_badge(ctx, letter["state"].as_str().unwrap_or(""))) }
            dt { (lang.t("Reason", "السبب")) } dd { code { (letter["reason"].as_str().unwrap_or("")) } }
            dt { (lang.t("Task", "المهمة")) } dd.mono { (letter["task"].as_str().unwrap_or("—")) }
            dt { (lang.t("Request", "الطلب")) } dd { @if let Some(r) = letter["request"].as_str() { a.mono href=(format!("/console/requests/{r}")) { (r) } } @else { "—" } }
            dt { (lang.t("Replayed by", "أعادها")) } dd { (letter["replayedBy"].as_str().unwrap_or("—")) }
        }
        h2 { (lang.t("Message", "الرسالة")) }
        pre { (letter["bodyText"].as_str().unwrap_or("(binary)")) }
        h2 { (lang.t("Headers", "الترويسات")) }
        pre { (layout::pretty(&letter["headers"])) }
        @if open && letter["replayable"] == Value::Bool(true) && ctx.can(OperatorRole::Operator) {
            form.action method="post" action=(format!("/console/dead-letters/{id}/replay")) {
                (ctx.csrf_field())
                label { (lang.t("Reason (audited)", "السبب (يُسجَّل)")) input name="reason" required maxlength="200"; }
                button type="submit" { (lang.t("Replay", "إعادة التشغيل")) }
            }
        }
        @if open && ctx.can(OperatorRole::Admin) {
            (danger_form(
                ctx,
                &format!("/console/dead-letters/{id}/purge"),
                ("Yes, discard it for good", "نعم، احذفها نهائيًا"),
                ("Purge", "حذف"),
            ))
        }
    };
    Ok(layout::page(ctx, lang.t("Dead letter", "رسالة ميتة"), body))
}

/// The reason of an action, or a refusal page.
fn reason(ctx: &Ctx, form: &Form) -> Result<String, Response> {
    form.text("reason")
        .filter(|r| r.chars().count() <= 200)
        .ok_or_else(|| {
            layout::refusal(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.lang.t("A reason is needed", "السبب مطلوب"),
                ctx.lang.t(
                    "Say why (1 to 200 characters); nothing was done.",
                    "اذكر السبب (من 1 إلى 200 حرف)؛ لم يُنفَّذ شيء.",
                ),
            )
        })
}

/// Writes the operator's reason for an action on dead letters to the audit log.
async fn audit_reason(
    state: &AppState,
    operator: &str,
    action: &str,
    letters: &[String],
    reason: &str,
) -> Result<(), crate::problem::ApiError> {
    let mut entry = NewAuditEntry::new(Actor::Operator(operator.to_owned()), "dead_letter.reason");
    entry.detail = json!({ "action": action, "deadLetters": letters, "reason": reason });
    retrying("auditing a reason", || state.store().record_audit(&entry)).await
}

/// `POST /console/dead-letters/{id}/replay` (operator, reason).
pub(crate) async fn replay(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let reason = reason(ctx, &form)?;
    replay_one(&state, &id, &operator).await.or_page(ctx)?;
    audit_reason(
        &state,
        &operator,
        "replay",
        std::slice::from_ref(&id),
        &reason,
    )
    .await
    .or_page(ctx)?;
    Ok(redirect(&format!("/console/dead-letters/{id}")))
}

/// `POST /console/dead-letters/{id}/purge` (admin, reason, confirmation).
pub(crate) async fn purge(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Admin, &form)?;
    let ctx = &console.ctx;
    let reason = reason(ctx, &form)?;
    if form.get("confirm") != Some("yes") {
        return Err(layout::refusal(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            ctx.lang.t("Not confirmed", "لم يُؤكَّد"),
            ctx.lang.t(
                "Tick the confirmation to purge; nothing was done.",
                "أشّر على التأكيد للحذف؛ لم يُنفَّذ شيء.",
            ),
        ));
    }
    purge_one(&state, &id, &operator).await.or_page(ctx)?;
    audit_reason(
        &state,
        &operator,
        "purge",
        std::slice::from_ref(&id),
        &reason,
    )
    .await
    .or_page(ctx)?;
    Ok(redirect(&format!("/console/dead-letters/{id}")))
}

fn when(form: &Form, name: &str) -> Result<Option<DateTime<Utc>>, ()> {
    match form.text(name) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ()),
    }
}

/// `POST /console/dead-letters/replay`: without `confirm=yes`, a page saying how many
/// open dead letters the filter selects, with a button to go on; with it, replays
/// each of them (oldest first) and says what happened.
pub(crate) async fn replay_many(
    State(state): State<AppState>,
    console: Console,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let reason = reason(ctx, &form)?;
    let (agency, since, until) = bulk_filter(ctx, &form)?;
    let selected = selected(&state, agency, since, until).await.or_page(ctx)?;
    if form.get("confirm") != Some("yes") {
        return Ok(confirm_page(ctx, &form, agency, &reason, selected.len()));
    }
    audit_reason(&state, &operator, "replay", &selected, &reason)
        .await
        .or_page(ctx)?;
    let mut replayed = 0u64;
    let mut skipped = Vec::new();
    for id in &selected {
        match replay_one(&state, id, &operator).await {
            Ok(_) => replayed += 1,
            Err(err) => skipped.push((id.clone(), err.problem().kind.slug())),
        }
    }
    let lang = ctx.lang;
    let body = html! {
        h1 { (lang.t("Replayed", "أُعيد تشغيلها")) }
        p #replayed { (lang.num(replayed)) " " (lang.t("replayed", "أُعيد تشغيلها")) " · " (lang.num(skipped.len() as u64)) " " (lang.t("skipped", "تُخطّيت")) }
        @if !skipped.is_empty() {
            ul { @for (id, why) in &skipped { li { span.mono { (id) } " — " code { (why) } } } }
        }
        p { a href="/console/dead-letters" { (lang.t("Back to the dead letters", "العودة إلى الرسائل الميتة")) } }
    };
    Ok(layout::page(ctx, lang.t("Replayed", "أُعيد تشغيلها"), body))
}

/// A bulk replay's selection: an agency (or all), dead since and dead before.
type BulkFilter = (Option<Agency>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A bulk replay's filter from its form, each part optional.
fn bulk_filter(ctx: &Ctx, form: &Form) -> Result<BulkFilter, Response> {
    let lang = ctx.lang;
    let agency = match form.text("agency").map(|a| a.parse::<Agency>()) {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(_)) => {
            return Err(layout::refusal(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.t("Unknown agency", "جهة غير معروفة"),
                "",
            ));
        }
    };
    let (Ok(since), Ok(until)) = (when(form, "since"), when(form, "until")) else {
        return Err(layout::refusal(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            lang.t("A time is not valid", "وقت غير صالح"),
            lang.t(
                "Give times as RFC 3339, e.g. 2026-12-07T08:00:00Z; nothing was done.",
                "اكتب الأوقات بصيغة RFC 3339؛ لم يُنفَّذ شيء.",
            ),
        ));
    };
    Ok((agency, since, until))
}

/// The page that says how many dead letters a bulk replay selects, and replays them
/// when confirmed (the same form again, with `confirm=yes`).
fn confirm_page(
    ctx: &Ctx,
    form: &Form,
    agency: Option<Agency>,
    reason: &str,
    count: usize,
) -> Response {
    let lang = ctx.lang;
    let body = html! {
        h1 { (lang.t("Confirm the replay", "تأكيد إعادة التشغيل")) }
        p #count { (lang.t("Open dead letters selected", "الرسائل الميتة المفتوحة المحددة")) ": " strong { (lang.num(count as u64)) } }
        @if count == 0 {
            p { a href="/console/dead-letters" { (lang.t("Back", "رجوع")) } }
        } @else {
            form.action method="post" action="/console/dead-letters/replay" {
                (ctx.csrf_field())
                input type="hidden" name="agency" value=(agency.map_or("", |a| a.as_str()));
                input type="hidden" name="since" value=(form.get("since").unwrap_or(""));
                input type="hidden" name="until" value=(form.get("until").unwrap_or(""));
                input type="hidden" name="reason" value=(reason);
                input type="hidden" name="confirm" value="yes";
                button type="submit" { (lang.t("Replay", "إعادة تشغيل")) " " (lang.num(count as u64)) }
                " " a href="/console/dead-letters" { (lang.t("Cancel", "إلغاء")) }
            }
        }
    };
    layout::page(
        ctx,
        lang.t("Confirm the replay", "تأكيد إعادة التشغيل"),
        body,
    )
}

/// The open dead letters of `agency` (or all) that died within the window, oldest
/// first, at most [`MAX_BULK`].
async fn selected(
    state: &AppState,
    agency: Option<Agency>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<String>, crate::problem::ApiError> {
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let query = DeadLetterQuery {
            agency,
            state: Some(DeadLetterState::Open),
            before,
            limit: 200,
        };
        let page = retrying("listing dead letters", || {
            state.store().list_dead_letters(&query)
        })
        .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for letter in &page {
            let inside = since.is_none_or(|s| letter.dead_at >= s)
                && until.is_none_or(|u| letter.dead_at < u);
            if inside && letter.replayable {
                ids.push(letter.id.to_string());
            }
        }
        if page.len() < 200 || ids.len() >= MAX_BULK {
            break;
        }
    }
    ids.truncate(MAX_BULK);
    ids.reverse();
    Ok(ids)
}
