//! Agencies: each one's settings as running (never a secret) and the maintenance
//! pause and resume, from the same data and store calls as `/ops/v1/agencies`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use rabt_core::Agency;
use rabt_store::{OperatorRole, PauseOutcome};
use serde_json::{Value, json};

use super::forms::Form;
use super::layout::{self, Ctx, badge};
use super::requests::{problem, time};
use super::session::{Console, redirect};
use super::{OrPage, Page};
use crate::ops::agencies::{pause_body, views};
use crate::ops::retrying;
use crate::state::AppState;

/// `GET /console/agencies`.
pub(crate) async fn list(State(state): State<AppState>, console: Console) -> Page {
    console.require(OperatorRole::Viewer)?;
    let ctx = &console.ctx;
    let lang = ctx.lang;
    let agencies = views(&state).await.or_page(ctx)?;
    let body = html! {
        h1 { (lang.t("Agencies", "الجهات")) }
        p.note { (lang.t("Settings as this api process runs them; secrets are never shown, only how many callback secrets are set.", "الإعدادات كما تعمل بها هذه العملية؛ لا تُعرض الأسرار أبدًا، بل عدد أسرار الردود فقط.")) }
        @for a in &agencies {
            @let agency = a["agency"].as_str().unwrap_or("");
            section.tile aria-labelledby=(format!("agency-{agency}")) data-agency=(agency) {
                h2 #(format!("agency-{agency}")) {
                    span { (agency) }
                    @if a["paused"].is_object() { (badge("warn", lang.t("paused", "متوقفة"))) } @else { (badge("ok", lang.t("running", "تعمل"))) }
                }
                @if let Some(p) = a["paused"].as_object() {
                    p.pause {
                        (lang.t("Paused by", "أوقفها")) " " (p.get("pausedBy").and_then(Value::as_str).unwrap_or("")) " · "
                        @if let Some(at) = time(p.get("pausedAt").unwrap_or(&Value::Null)) { (lang.time(at)) } " · "
                        (p.get("reason").and_then(Value::as_str).unwrap_or(""))
                        @if let Some(end) = time(p.get("expectedEnd").unwrap_or(&Value::Null)) { " · " (lang.t("expected back", "العودة المتوقعة")) " " (lang.time(end)) }
                    }
                }
                pre { (layout::pretty(&a["settings"])) }
                @if ctx.can(OperatorRole::Operator) {
                    @if a["paused"].is_object() {
                        form.action method="post" action=(format!("/console/agencies/{agency}/resume")) {
                            (ctx.csrf_field())
                            button type="submit" { (lang.t("Resume", "استئناف")) }
                        }
                    } @else {
                        form.action method="post" action=(format!("/console/agencies/{agency}/pause")) {
                            (ctx.csrf_field())
                            label { (lang.t("Reason (audited)", "السبب (يُسجَّل)")) input name="reason" required maxlength="200"; }
                            label { (lang.t("Expected back (RFC 3339, optional)", "العودة المتوقعة (اختياري)")) input name="expected_end" dir="ltr"; }
                            button type="submit" { (lang.t("Pause for maintenance", "إيقاف للصيانة")) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, lang.t("Agencies", "الجهات"), body))
}

/// The agency of the path, or the page that says there is none.
fn agency(ctx: &Ctx, name: &str) -> Result<Agency, Response> {
    name.parse().map_err(|_| {
        layout::refusal(
            ctx,
            StatusCode::NOT_FOUND,
            ctx.lang.t("No such agency", "لا توجد هذه الجهة"),
            "",
        )
    })
}

/// `POST /console/agencies/{agency}/pause` (operator).
pub(crate) async fn pause(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let agency = agency(ctx, &name)?;
    let mut body = json!({ "reason": form.get("reason").unwrap_or("") });
    if let Some(end) = form.text("expected_end") {
        body["expectedEnd"] = json!(end);
    }
    let (reason, end) = match pause_body(&body) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return Err(problem(
                ctx,
                &crate::problem::ApiError::new(crate::problem::ProblemKind::ValidationFailed)
                    .errors(errors),
            ));
        }
    };
    match retrying("pausing an agency", || {
        state.store().pause_agency(agency, &reason, end, &operator)
    })
    .await
    {
        Ok(PauseOutcome::Paused(_)) | Ok(PauseOutcome::Already(_)) => {
            Ok(redirect("/console/agencies"))
        }
        Err(err) => Err(problem(ctx, &err)),
    }
}

/// `POST /console/agencies/{agency}/resume` (operator).
pub(crate) async fn resume(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    form: Form,
) -> Page {
    let operator = console.authorize_form(OperatorRole::Operator, &form)?;
    let ctx = &console.ctx;
    let agency = agency(ctx, &name)?;
    match retrying("resuming an agency", || {
        state.store().resume_agency(agency, &operator)
    })
    .await
    {
        Ok(_) => Ok(redirect("/console/agencies")),
        Err(err) => Err(problem(ctx, &err)),
    }
}
