//! Cooperatives: the list with their last 24 hours, one with its keys, and the
//! lifecycle's actions (onboard, rotate, revoke, services, deactivate, activate)
//! through the same store calls as `/ops/v1/cooperatives`. A new key is shown once, on
//! the answer page, and never again.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use rabt_core::{CooperativeId, ServiceName, UnifiedNumber};
use rabt_store::{Actor, NewCooperative, OperatorRole, Revoked, StoreError};
use serde_json::Value;

use super::forms::Form;
use super::layout::{self, Ctx, badge, danger_form, headings};
use super::requests::{problem, time};
use super::session::{Console, redirect};
use super::{OrPage, Page};
use crate::auth::{API_KEY_PREFIX, generate_secret, hash_secret};
use crate::ops::cooperatives::find;
use crate::ops::{coop_view, retrying};
use crate::state::AppState;

fn unprocessable(ctx: &Ctx, en: &str, ar: &str) -> Response {
    layout::refusal(
        ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        ctx.lang.t(en, ar),
        ctx.lang.t("Nothing was changed.", "لم يتغير شيء."),
    )
}

fn services_of(state: &AppState, form: &Form) -> Option<Vec<ServiceName>> {
    let names = form.all("services");
    let services: Vec<ServiceName> = names
        .iter()
        .filter_map(|n| state.catalogue().service(n).map(|s| s.name.clone()))
        .collect();
    (!services.is_empty() && services.len() == names.len()).then_some(services)
}

fn services_boxes(
    state: &AppState,
    lang: super::i18n::Lang,
    chosen: &dyn Fn(&ServiceName) -> bool,
) -> Markup {
    html! {
        fieldset {
            legend { (lang.t("Services it may call", "الخدمات المسموح بها")) }
            @for s in state.catalogue().services() {
                label { input type="checkbox" name="services" value=(s.name.as_str()) checked[chosen(&s.name)]; " " code { (s.name.as_str()) } }
            }
        }
    }
}

/// `GET /console/cooperatives`.
pub(crate) async fn list(State(state): State<AppState>, console: Console) -> Page {
    console.require(OperatorRole::Viewer)?;
    let ctx = &console.ctx;
    let lang = ctx.lang;
    let items = coop_view::list(&state).await.or_page(ctx)?;
    let body = html! {
        h1 { (lang.t("Cooperatives", "الجمعيات")) }
        table {
            (headings(lang, &[("Name", "الاسم"), ("Unified number", "الرقم الموحد"), ("State", "الحالة"), ("Requests, 24 h", "الطلبات، 24 ساعة"), ("Error rate", "نسبة الأخطاء")]))
            tbody {
                @for c in &items {
                    tr {
                        td { a href=(format!("/console/cooperatives/{}", c["id"].as_str().unwrap_or(""))) { (c["name"].as_str().unwrap_or("")) } }
                        td.mono { (c["unifiedNumber"].as_str().unwrap_or("")) }
                        td { (active_badge(ctx, &c["active"])) }
                        td { (lang.num(c["activity"]["requests"].as_u64().unwrap_or(0))) }
                        td { @match c["activity"]["errorRate"].as_f64() { Some(r) => (lang.percent(r)), None => "—" } }
                    }
                }
            }
        }
        @if ctx.can(OperatorRole::Operator) {
            h2 { (lang.t("Onboard a cooperative", "تسجيل جمعية")) }
            form.action method="post" action="/console/cooperatives" {
                (ctx.csrf_field())
                label { (lang.t("Name", "الاسم")) input name="name" required maxlength="200"; }
                label { (lang.t("Unified number (700)", "الرقم الموحد (700)")) input name="unified_number" required pattern="7[0-9]{9}" dir="ltr"; }
                (services_boxes(&state, lang, &|_| false))
                button type="submit" { (lang.t("Onboard", "تسجيل")) }
            }
        }
    };
    Ok(layout::page(ctx, lang.t("Cooperatives", "الجمعيات"), body))
}

fn active_badge(ctx: &Ctx, active: &Value) -> Markup {
    if active.as_bool() == Some(true) {
        badge("ok", ctx.lang.t("active", "نشطة"))
    } else {
        badge("bad", ctx.lang.t("deactivated", "موقوفة"))
    }
}

/// `GET /console/cooperatives/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Page {
    console.require(OperatorRole::Viewer)?;
    page_of(&state, &console.ctx, &id, None).await
}

/// The cooperative's page; `secret` is a key (and secret) to show this once.
async fn page_of(state: &AppState, ctx: &Ctx, id: &str, secret: Option<Markup>) -> Page {
    let lang = ctx.lang;
    let cooperative = find(state, id).await.or_page(ctx)?;
    let view = coop_view::full(state, &cooperative).await.or_page(ctx)?;
    let id = view["id"].as_str().unwrap_or("");
    let body = html! {
        h1 { (view["name"].as_str().unwrap_or("")) }
        @if let Some(secret) = secret { (secret) }
        dl.facts {
            dt { (lang.t("Id", "المعرّف")) } dd.mono { (id) }
            dt { (lang.t("Unified number", "الرقم الموحد")) } dd.mono { (view["unifiedNumber"].as_str().unwrap_or("")) }
            dt { (lang.t("State", "الحالة")) } dd #coop-state { (active_badge(ctx, &view["active"])) }
            dt { (lang.t("Requests, 24 h", "الطلبات، 24 ساعة")) } dd { (lang.num(view["activity"]["requests"].as_u64().unwrap_or(0))) }
        }
        p { a href=(format!("/console/requests?cooperative={id}")) { (lang.t("Its requests", "طلباتها")) } " · " a href=(format!("/console/audit?cooperative={id}")) { (lang.t("Its audit trail", "سجل تدقيقها")) } }
        h2 { (lang.t("API keys", "مفاتيح الواجهة")) }
        (keys_table(ctx, id, &view["keys"]))
        (actions(state, ctx, &view))
    };
    Ok(layout::page(ctx, view["name"].as_str().unwrap_or(""), body))
}

/// A cooperative's keys, each with its revocation form for an admin while it works.
fn keys_table(ctx: &Ctx, id: &str, keys: &Value) -> Markup {
    let lang = ctx.lang;
    html! {
        table {
            (headings(lang, &[("Key", "المفتاح"), ("State", "الحالة"), ("Made", "أُنشئ"), ("Ends", "ينتهي"), ("Action", "إجراء")]))
            tbody {
                @for k in keys.as_array().into_iter().flatten() {
                    @let key = k["id"].as_str().unwrap_or("");
                    @let usable = matches!(k["state"].as_str(), Some("active" | "expiring"));
                    tr {
                        td.mono { (key) br; span.note { (k["label"].as_str().unwrap_or("")) } }
                        td { code { (k["state"].as_str().unwrap_or("")) } }
                        td { @if let Some(at) = time(&k["createdAt"]) { (lang.time(at)) } }
                        td { @match time(&k["expiresAt"]).or(time(&k["revokedAt"])) { Some(at) => (lang.time(at)), None => "—" } }
                        td {
                            @if usable && ctx.can(OperatorRole::Admin) {
                                form.inline method="post" action=(format!("/console/cooperatives/{id}/keys/{key}/revoke")) {
                                    (ctx.csrf_field())
                                    label { (lang.t("Reason", "السبب")) " " input name="reason" required maxlength="200"; }
                                    " " button.danger type="submit" { (lang.t("Revoke", "إلغاء")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What the operator's role allows on a cooperative: rotate its key and choose its
/// services (operator), deactivate it (admin) or reactivate it (operator).
fn actions(state: &AppState, ctx: &Ctx, view: &Value) -> Markup {
    let lang = ctx.lang;
    let id = view["id"].as_str().unwrap_or("");
    let active = view["active"].as_bool() == Some(true);
    let has = |name: &ServiceName| {
        view["services"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == name.as_str()))
    };
    html! {
        @if ctx.can(OperatorRole::Operator) {
            form.action method="post" action=(format!("/console/cooperatives/{id}/rotate")) {
                (ctx.csrf_field())
                label { (lang.t("Old keys keep working for (seconds)", "تبقى المفاتيح القديمة صالحة لمدة (ثوانٍ)"))
                    input name="overlap_seconds" type="number" min="0" max="2592000" value=(ctx_overlap(state)); }
                button type="submit" { (lang.t("Rotate the key", "تدوير المفتاح")) }
            }
            h2 { (lang.t("Services", "الخدمات")) }
            form.action method="post" action=(format!("/console/cooperatives/{id}/services")) {
                (ctx.csrf_field())
                (services_boxes(state, lang, &has))
                button type="submit" { (lang.t("Save services", "حفظ الخدمات")) }
            }
            @if !active {
                form.action method="post" action=(format!("/console/cooperatives/{id}/activate")) {
                    (ctx.csrf_field())
                    button type="submit" { (lang.t("Reactivate", "إعادة التفعيل")) }
                }
            }
        }
        @if active && ctx.can(OperatorRole::Admin) {
            (danger_form(
                ctx,
                &format!("/console/cooperatives/{id}/deactivate"),
                ("Yes: its keys are refused until reactivated", "نعم: تُرفض مفاتيحها حتى إعادة التفعيل"),
                ("Deactivate", "إيقاف"),
            ))
        }
    }
}

fn ctx_overlap(state: &AppState) -> u64 {
    state.settings().key_overlap.as_secs()
}

fn shown_once(ctx: &Ctx, key: &str, secret: Option<&str>) -> Markup {
    let lang = ctx.lang;
    html! {
        div.secret role="status" {
            p { strong { (lang.t("Copy this now: it is shown once and stored only as a digest.", "انسخه الآن: يُعرض مرة واحدة ويُحفظ مُجزّأً فقط.")) } }
            p { (lang.t("API key", "مفتاح الواجهة")) ": " code #new-key { (key) } }
            @if let Some(secret) = secret { p { (lang.t("Webhook secret", "سر الإشعارات")) ": " code #new-secret { (secret) } } }
        }
    }
}

/// Runs the common start of an action: role, CSRF, the operator's actor.
fn act(console: &Console, role: OperatorRole, form: &Form) -> Result<Actor, Response> {
    let operator = console.require(role)?.name.clone();
    console.check_csrf(form)?;
    Ok(Actor::Operator(operator))
}

/// `POST /console/cooperatives`: onboard.
pub(crate) async fn onboard(State(state): State<AppState>, console: Console, form: Form) -> Page {
    let actor = act(&console, OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let (Some(name), Some(Ok(unified)), Some(services)) = (
        form.text("name").filter(|n| n.chars().count() <= 200),
        form.text("unified_number")
            .map(|n| UnifiedNumber::parse(&n)),
        services_of(&state, &form),
    ) else {
        return Err(unprocessable(
            ctx,
            "Give a name, a unified (700) number and at least one service",
            "اذكر الاسم والرقم الموحد (700) وخدمة واحدة على الأقل",
        ));
    };
    let new = NewCooperative {
        id: CooperativeId::new(),
        name,
        unified_number: unified,
        services,
    };
    let key = generate_secret(API_KEY_PREFIX);
    let secret = rabt_webhook::Secret::generate().expose();
    match state
        .store()
        .onboard_cooperative(&new, &hash_secret(&key), &secret, &actor)
        .await
    {
        Ok(_) => {
            tracing::info!(cooperative = %new.id, "cooperative onboarded in the console");
            page_of(
                &state,
                ctx,
                &new.id.to_string(),
                Some(shown_once(ctx, &key, Some(&secret))),
            )
            .await
        }
        Err(StoreError::Duplicate { .. }) => Err(layout::refusal(
            ctx,
            StatusCode::CONFLICT,
            ctx.lang.t(
                "This unified number is onboarded already",
                "هذا الرقم الموحد مسجّل من قبل",
            ),
            "",
        )),
        Err(err) => Err(problem(
            ctx,
            &crate::state::store_error("onboarding a cooperative", err),
        )),
    }
}

/// `POST /console/cooperatives/{id}/rotate`.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    let actor = act(&console, OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let overlap = match form.text("overlap_seconds").map(|s| s.parse::<u64>()) {
        None => state.settings().key_overlap,
        Some(Ok(s)) if s <= 30 * 24 * 3600 => Duration::from_secs(s),
        Some(_) => {
            return Err(unprocessable(
                ctx,
                "The overlap is 0 to 2592000 seconds",
                "مدة التداخل من 0 إلى 2592000 ثانية",
            ));
        }
    };
    let coop = find(&state, &id).await.or_page(ctx)?;
    let key = generate_secret(API_KEY_PREFIX);
    let hash = hash_secret(&key);
    match retrying("rotating a key", || {
        state
            .store()
            .rotate_api_key(coop.id, &hash, overlap, &actor)
    })
    .await
    {
        Ok(Some(_)) => page_of(&state, ctx, &id, Some(shown_once(ctx, &key, None))).await,
        Ok(None) => Ok(redirect("/console/cooperatives")),
        Err(err) => Err(problem(ctx, &err)),
    }
}

/// `POST /console/cooperatives/{id}/keys/{key}/revoke` (admin, reason).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path((id, key)): Path<(String, String)>,
    form: Form,
) -> Page {
    let actor = act(&console, OperatorRole::Admin, &form)?;
    let ctx = &console.ctx;
    let Some(reason) = form.text("reason").filter(|r| r.chars().count() <= 200) else {
        return Err(unprocessable(ctx, "A reason is needed", "السبب مطلوب"));
    };
    let coop = find(&state, &id).await.or_page(ctx)?;
    match retrying("revoking a key", || {
        state
            .store()
            .revoke_api_key_id(coop.id, &key, &reason, &actor)
    })
    .await
    {
        Ok(Revoked::Now) => Ok(redirect(&format!("/console/cooperatives/{id}"))),
        Ok(Revoked::Already(_)) => Err(layout::refusal(
            ctx,
            StatusCode::CONFLICT,
            ctx.lang.t("Revoked already", "ملغى من قبل"),
            "",
        )),
        Ok(Revoked::NoSuchKey) => Err(layout::refusal(
            ctx,
            StatusCode::NOT_FOUND,
            ctx.lang.t("No such key", "لا يوجد هذا المفتاح"),
            "",
        )),
        Err(err) => Err(problem(ctx, &err)),
    }
}

/// `POST /console/cooperatives/{id}/services`.
pub(crate) async fn services(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    let actor = act(&console, OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let Some(services) = services_of(&state, &form) else {
        return Err(unprocessable(
            ctx,
            "Choose at least one service of the catalogue",
            "اختر خدمة واحدة على الأقل من الدليل",
        ));
    };
    let coop = find(&state, &id).await.or_page(ctx)?;
    match retrying("changing services", || {
        state
            .store()
            .set_cooperative_services(coop.id, &services, &actor)
    })
    .await
    {
        Ok(_) => Ok(redirect(&format!("/console/cooperatives/{id}"))),
        Err(err) => Err(problem(ctx, &err)),
    }
}

async fn set_active(
    state: AppState,
    console: Console,
    id: String,
    form: Form,
    active: bool,
) -> Page {
    let role = if active {
        OperatorRole::Operator
    } else {
        OperatorRole::Admin
    };
    let actor = act(&console, role, &form)?;
    let ctx = &console.ctx;
    // No reason is the empty reason: refused just below for a deactivation, and an
    // activation needs none.
    let reason = form.text("reason").unwrap_or_default();
    if !active && (reason.is_empty() || form.get("confirm") != Some("yes")) {
        return Err(unprocessable(
            ctx,
            "Give a reason and confirm",
            "اذكر السبب وأكّد",
        ));
    }
    let coop = find(&state, &id).await.or_page(ctx)?;
    match retrying("changing a cooperative's state", || {
        state
            .store()
            .set_cooperative_active(coop.id, active, &reason, &actor)
    })
    .await
    {
        Ok(_) => Ok(redirect(&format!("/console/cooperatives/{id}"))),
        Err(err) => Err(problem(ctx, &err)),
    }
}

/// `POST /console/cooperatives/{id}/deactivate` (admin, reason, confirmation).
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    set_active(state, console, id, form, false).await
}

/// `POST /console/cooperatives/{id}/activate`.
pub(crate) async fn activate(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    form: Form,
) -> Page {
    set_active(state, console, id, form, true).await
}
