//! The page around every view: `<html lang dir>` in the chosen language, the
//! navigation, the language switch and the operator with a logout button. Styles and
//! scripts are files of this origin (the CSP allows nothing inline); htmx is told not
//! to add its inline indicator style.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use rabt_core::Agency;
use rabt_store::{Operator, OperatorRole};

use super::i18n::Lang;

/// What every page needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The page's language.
    pub(crate) lang: Lang,
    /// The path being shown (for the language switch to come back to).
    pub(crate) path: String,
    /// Who is logged in.
    pub(crate) operator: Option<Operator>,
    /// The session's CSRF token, put in every form.
    pub(crate) csrf: Option<String>,
}

impl Ctx {
    /// A page for someone not logged in.
    pub(crate) fn anonymous(lang: Lang, path: &str) -> Ctx {
        Ctx {
            lang,
            path: path.to_owned(),
            operator: None,
            csrf: None,
        }
    }

    /// Whether the operator's role is at least `role` (what the page shows; the
    /// handler checks again).
    pub(crate) fn can(&self, role: OperatorRole) -> bool {
        self.operator.as_ref().is_some_and(|o| o.role >= role)
    }

    /// The hidden CSRF field of a form.
    pub(crate) fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf.as_deref().unwrap_or("")); }
    }
}

/// The navigation: path and both names.
const NAV: [(&str, &str, &str); 6] = [
    ("/console/", "Overview", "نظرة عامة"),
    ("/console/requests", "Requests", "الطلبات"),
    ("/console/dead-letters", "Dead letters", "الرسائل الميتة"),
    ("/console/cooperatives", "Cooperatives", "الجمعيات"),
    ("/console/agencies", "Agencies", "الجهات"),
    ("/console/audit", "Audit", "التدقيق"),
];

/// A full page.
pub(crate) fn page(ctx: &Ctx, title: &str, body: Markup) -> Response {
    let lang = ctx.lang;
    let other = lang.other();
    let back: String = url::form_urlencoded::byte_serialize(ctx.path.as_bytes()).collect();
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.tag()) dir=(lang.dir()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
                title { (title) " · " (lang.t("Rabt console", "وحدة تحكم ربط")) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/htmx.min.js" defer {}
                script src="/console/static/sse.js" defer {}
            }
            body {
                a.skip href="#main" { (lang.t("Skip to content", "انتقل إلى المحتوى")) }
                header.top {
                    span.brand { (lang.t("Rabt", "ربط")) " · " (lang.t("operators", "المشغّلون")) }
                    @if ctx.operator.is_some() {
                        nav aria-label=(lang.t("Sections", "الأقسام")) {
                            ul {
                                @for (path, en, ar) in NAV {
                                    @let current = ctx.path == path || (path != "/console/" && ctx.path.starts_with(path));
                                    li { a href=(path) aria-current=[current.then_some("page")] { (lang.t(en, ar)) } }
                                }
                            }
                        }
                    }
                    div.tools {
                        a href=(format!("/console/lang/{}?back={back}", other.tag())) lang=(other.tag()) hreflang=(other.tag()) {
                            (other.t("English", "العربية"))
                        }
                        @if let Some(operator) = &ctx.operator {
                            span.who { (operator.name) " (" (operator.role) ")" }
                            form.inline method="post" action="/console/logout" {
                                (ctx.csrf_field())
                                button type="submit" { (lang.t("Log out", "تسجيل الخروج")) }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    };
    markup.into_response()
}

/// A page that says why something was refused, with its status.
pub(crate) fn refusal(ctx: &Ctx, status: StatusCode, title: &str, detail: &str) -> Response {
    let body = html! {
        section.refusal role="alert" {
            h1 { (title) }
            p { (detail) }
            p { a href="/console/" { (ctx.lang.t("Back to the console", "العودة إلى وحدة التحكم")) } }
        }
    };
    let mut response = page(ctx, title, body);
    *response.status_mut() = status;
    response
}

/// A small badge for a state (`ok`, `warn`, `bad`, `off`), named for screen readers by
/// its text.
pub(crate) fn badge(kind: &str, text: &str) -> Markup {
    html! { span class=(format!("badge {kind}")) { (text) } }
}

/// An SVG sparkline of `points` (oldest first), sized in CSS; it mirrors in RTL with
/// the page.
pub(crate) fn sparkline(points: &[u64], label: &str) -> Markup {
    let max = points.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = points.len().max(2) as f64 - 1.0;
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as f64 / n * 100.0;
            let y = 28.0 - (*v as f64 / max) * 26.0;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    html! {
        svg.spark viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label=(label) {
            polyline points=(path.join(" ")) fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" {}
        }
    }
}

/// A table's head: one column heading a pair of English and Arabic.
pub(crate) fn headings(lang: Lang, columns: &[(&str, &str)]) -> Markup {
    html! {
        thead { tr {
            @for (en, ar) in columns { th scope="col" { (lang.t(en, ar)) } }
        } }
    }
}

/// An irreversible action: a form posting to `action` that asks for an audited
/// reason and a ticked confirmation (`confirm` says what it means), under a danger
/// button.
pub(crate) fn danger_form(
    ctx: &Ctx,
    action: &str,
    confirm: (&str, &str),
    button: (&str, &str),
) -> Markup {
    let lang = ctx.lang;
    html! {
        form.action method="post" action=(action) {
            (ctx.csrf_field())
            label { (lang.t("Reason (audited)", "السبب (يُسجَّل)")) input name="reason" required maxlength="200"; }
            label { input type="checkbox" name="confirm" value="yes" required; (lang.t(confirm.0, confirm.1)) }
            button.danger type="submit" { (lang.t(button.0, button.1)) }
        }
    }
}

/// A list page's table (its column headings, then `rows`), or the note `none` says
/// when nothing matches.
pub(crate) fn table_or_note(
    lang: Lang,
    none: (&str, &str),
    columns: &[(&str, &str)],
    rows: &[Markup],
) -> Markup {
    html! {
        @if rows.is_empty() {
            p.note { (lang.t(none.0, none.1)) }
        } @else {
            table {
                (headings(lang, columns))
                tbody { @for row in rows { (row) } }
            }
        }
    }
}

/// The link to a list's next (older) page, when there is one, labelled `label`.
pub(crate) fn pager(lang: Lang, next: Option<String>, label: (&str, &str)) -> Markup {
    html! {
        @if let Some(href) = next {
            p.pager { a href=(href) { (lang.t(label.0, label.1)) } }
        }
    }
}

/// A filter's agency choice, every agency of `Agency::ALL` or "all".
pub(crate) fn agency_select(lang: Lang, selected: Option<Agency>) -> Markup {
    html! {
        label { (lang.t("Agency", "الجهة"))
            select name="agency" {
                option value="" { (lang.t("all", "الكل")) }
                @for a in Agency::ALL { option value=(a.as_str()) selected[selected == Some(a)] { (a.as_str()) } }
            }
        }
    }
}

/// A filter's choice of a recent window (`window=15m|1h|24h`), or any time.
pub(crate) fn window_select(lang: Lang, selected: Option<&str>) -> Markup {
    html! {
        label { (lang.t("When", "متى"))
            select name="window" {
                option value="" { (lang.t("any time", "أي وقت")) }
                @for (w, en, ar) in [("15m", "last 15 min", "آخر 15 دقيقة"), ("1h", "last hour", "آخر ساعة"), ("24h", "last 24 h", "آخر 24 ساعة")] {
                    option value=(w) selected[selected == Some(w)] { (lang.t(en, ar)) }
                }
            }
        }
    }
}

/// The link to a list's next page: `path` with this page's query, its `cursor`
/// replaced by `cursor`.
pub(crate) fn next_page(path: &str, raw_query: &str, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()).filter(|(k, _)| k != "cursor") {
        query.append_pair(&k, &v);
    }
    query.append_pair("cursor", cursor);
    format!("{path}?{}", query.finish())
}

/// A JSON value, indented for a `pre`.
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    // Proven: a `Value` always serializes (its map keys are strings), so the default
    // is never taken.
    serde_json::to_string_pretty(value).unwrap_or_default()
}
