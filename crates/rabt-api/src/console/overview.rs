//! The overview: one tile per agency, the services, the outbox, readiness and the
//! processes, from `GET /ops/v1/overview`'s data. The page renders it whole (it reads
//! without JavaScript); with JavaScript, htmx's SSE extension swaps in a fresh
//! rendering every few seconds from `/console/events`. A source that failed greys its
//! own part of a tile.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use maud::{Markup, html};
use rabt_store::OperatorRole;
use serde_json::Value;

use super::Page;
use super::i18n::Lang;
use super::layout::{self, badge, sparkline};
use super::session::Console;
use crate::ops::overview::overview;
use crate::state::AppState;

/// How often an open page gets a fresh overview.
const EVERY: Duration = Duration::from_secs(3);

/// `GET /console/`.
pub(crate) async fn page(State(state): State<AppState>, console: Console) -> Page {
    console.require(OperatorRole::Viewer)?;
    let lang = console.ctx.lang;
    let data = overview(&state).await;
    let body = html! {
        h1 { (lang.t("Overview", "نظرة عامة")) }
        p.note { (lang.t(
            "Every api and worker process of the deployment; updates by itself every few seconds.",
            "كل عمليات الواجهة والعمّال في النشر؛ تتحدّث تلقائيًا كل بضع ثوانٍ.",
        )) }
        div #overview hx-ext="sse" sse-connect="/console/events" sse-swap="overview" aria-live="polite" {
            (render(lang, &data))
        }
    };
    Ok(layout::page(
        &console.ctx,
        lang.t("Overview", "نظرة عامة"),
        body,
    ))
}

/// `GET /console/events`: the overview, rendered, every few seconds (event
/// `overview`). Every open page shares the process's cached overview.
pub(crate) async fn events(State(state): State<AppState>, console: Console) -> Page {
    console.require(OperatorRole::Viewer)?;
    let lang = console.ctx.lang;
    Ok(Sse::new(feed(state, lang))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn feed(state: AppState, lang: Lang) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(state, move |state| async move {
        tokio::time::sleep(EVERY).await;
        let data = overview(&state).await;
        let html = render(lang, &data).into_string();
        Some((Ok(Event::default().event("overview").data(html)), state))
    })
}

/// The overview's content.
pub(crate) fn render(lang: Lang, data: &Value) -> Markup {
    let readiness = &data["readiness"];
    let ok = |v: &Value| v.as_str() == Some("ok");
    html! {
        p.note {
            (lang.t("Database", "قاعدة البيانات")) " "
            (if ok(&readiness["database"]) { badge("ok", lang.t("ready", "جاهزة")) } else { badge("bad", lang.t("down", "متعطلة")) })
            " · " (lang.t("Broker", "الوسيط")) " "
            (if ok(&readiness["broker"]) { badge("ok", lang.t("ready", "جاهز")) } else { badge("bad", lang.t("down", "متعطل")) })
            " · " (lang.t("Updated", "آخر تحديث")) " "
            @if let Some(at) = data["generatedAt"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                (lang.time(at.with_timezone(&chrono::Utc)))
            }
        }
        div.tiles {
            @for tile in data["agencies"].as_array().into_iter().flatten() {
                (agency_tile(lang, tile))
            }
        }
        h2 { (lang.t("Requests per service, last hour", "الطلبات لكل خدمة، آخر ساعة")) }
        @match data["services"].as_array() {
            Some(services) if services.is_empty() => p.note { (lang.t("No requests in the last hour.", "لا طلبات في آخر ساعة.")) },
            Some(services) => table {
                (layout::headings(lang, &[("Service", "الخدمة"), ("Requests", "الطلبات")]))
                tbody { @for s in services { tr { td { code { (s["service"].as_str().unwrap_or("")) } } td { (lang.num(s["requests"].as_u64().unwrap_or(0))) } } } }
            },
            None => p.error { (lang.t("The database cannot be read.", "تعذرت قراءة قاعدة البيانات.")) },
        }
        h2 { (lang.t("Outbox and processes", "صندوق الإرسال والعمليات")) }
        p {
            (lang.t("Outbox backlog", "المتأخر في صندوق الإرسال")) ": "
            @match data["outbox"]["rows"].as_u64() {
                Some(n) => (lang.num(n)),
                None => span.error { (lang.t("unknown", "غير معروف")) },
            }
            " · " (lang.t("Processes reporting", "العمليات المُبلِغة")) ": "
            (lang.num(data["processes"].as_array().map_or(0, |p| p.len() as u64)))
        }
    }
}

fn agency_tile(lang: Lang, tile: &Value) -> Markup {
    let agency = tile["agency"].as_str().unwrap_or("?");
    let db_failed = tile["tasks"].get("error").is_some();
    let circuit = tile["workers"]["circuit"].as_str().unwrap_or("unknown");
    let (kind, circuit_text) = match circuit {
        "closed" => ("ok", lang.t("circuit closed", "الدائرة مغلقة")),
        "half_open" => ("warn", lang.t("circuit half-open", "الدائرة نصف مفتوحة")),
        "open" => ("bad", lang.t("circuit open", "الدائرة مفتوحة")),
        "no_worker" => ("off", lang.t("no worker", "لا عامل")),
        _ => ("off", lang.t("unknown", "غير معروف")),
    };
    html! {
        section.tile.grey[db_failed] aria-labelledby=(format!("tile-{agency}")) data-agency=(agency) {
            h2 #(format!("tile-{agency}")) {
                span { (agency) }
                @if tile["paused"].is_object() && tile["paused"].get("error").is_none() {
                    (badge("warn", lang.t("paused", "متوقفة")))
                }
                (badge(kind, circuit_text))
            }
            @if db_failed {
                p.error { (lang.t("The database cannot be read for this tile.", "تعذرت قراءة قاعدة البيانات لهذه البطاقة.")) }
            } @else {
                (task_figures(lang, tile))
            }
            (queue_line(lang, &tile["queue"]))
        }
    }
}

/// A tile's figures from the database: the sparkline, the tasks ended in the last 5
/// and 60 minutes, latency, work in flight, dead letters, the last answer and failure.
fn task_figures(lang: Lang, tile: &Value) -> Markup {
    let tasks = &tile["tasks"];
    let window = |key: &str| -> Markup {
        let w = &tasks[key];
        html! {
            bdi { (lang.num(w["ended"].as_u64().unwrap_or(0))) }
            @if let Some(rate) = w["successRate"].as_f64() { " (" bdi { (lang.percent(rate)) } ")" }
        }
    };
    // Absent only for an agency whose figures could not be read (the tile is greyed
    // then): an empty line says there is nothing to draw.
    let spark: Vec<u64> = tasks["sparkline"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    html! {
        (sparkline(&spark, lang.t("Checks ended per 5 minutes, last hour", "الفحوص المنتهية لكل 5 دقائق، آخر ساعة")))
        dl {
            dt { (lang.t("Checks ended, 5 min", "فحوص انتهت، 5 دقائق")) } dd.ended5 { (window("last5m")) }
            dt { (lang.t("Checks ended, 60 min", "فحوص انتهت، 60 دقيقة")) } dd.ended60 { (window("last60m")) }
            dt { (lang.t("Latency p50 / p95", "زمن الاستجابة p50 / p95")) }
            dd {
                @match (tasks["latencyMs"]["p50"].as_u64(), tasks["latencyMs"]["p95"].as_u64()) {
                    (Some(p50), Some(p95)) => { bdi { (lang.num(p50)) } " / " bdi { (lang.num(p95)) } " " (lang.t("ms", "م.ث")) },
                    _ => "—",
                }
            }
            dt { (lang.t("In flight", "قيد التنفيذ")) } dd { (lang.num(tile["workers"]["inFlight"].as_u64().unwrap_or(0))) }
            dt { (lang.t("Open dead letters", "رسائل ميتة مفتوحة")) } dd { (lang.num(tile["openDeadLetters"].as_u64().unwrap_or(0))) }
            dt { (lang.t("Last answer", "آخر إجابة")) }
            dd { @match tile["lastSuccess"].as_str().and_then(parse) { Some(at) => (lang.time(at)), None => "—" } }
            dt { (lang.t("Last failure", "آخر إخفاق")) }
            dd {
                @match tile["lastFailure"]["at"].as_str().and_then(parse) {
                    Some(at) => {
                        (lang.time(at)) " · " code { (tile["lastFailure"]["outcome"].as_str().unwrap_or("")) }
                        @if let Some(error) = tile["lastFailure"]["error"].as_str() { " " span.note { (error) } }
                    },
                    None => "—",
                }
            }
        }
    }
}

/// A tile's queue line from the broker: ready, dead and each retry tier holding
/// messages.
fn queue_line(lang: Lang, queue: &Value) -> Markup {
    html! {
        @if queue.get("error").is_some() {
            p.error { (lang.t("The broker cannot be read for this tile.", "تعذرت قراءة الوسيط لهذه البطاقة.")) }
        } @else {
            p.note {
                (lang.t("Queue", "الطابور")) ": " (lang.num(queue["ready"].as_u64().unwrap_or(0))) " " (lang.t("ready", "جاهزة"))
                " · " (lang.num(queue["dead"].as_u64().unwrap_or(0))) " " (lang.t("dead", "ميتة"))
                @for tier in queue["retry"].as_array().into_iter().flatten() {
                    @if tier["messages"].as_u64().unwrap_or(0) > 0 {
                        " · " (lang.t("retry", "إعادة")) " " (lang.digits(&format!("{}s", tier["tierMs"].as_u64().unwrap_or(0) / 1000))) ": "
                        (lang.num(tier["messages"].as_u64().unwrap_or(0)))
                    }
                }
            }
        }
    }
}

fn parse(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
