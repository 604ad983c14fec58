//! The operators' console through `oneshot`: login and its cookie, the security
//! headers, pages in Arabic and English, roles deciding what is shown and what is
//! refused, and every bad input the issue names (forged or missing CSRF token, expired
//! session, a viewer posting a replay, a cooperative key as operator token, a tampered
//! cookie): the right status, nothing changed, no secret logged.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use rabt_api::auth::{generate_secret, hash_secret};
use rabt_core::{Agency, TaskId};
use rabt_store::{AuditQuery, NewDeadLetter, OperatorRole};
use serde_json::json;
use tower::ServiceExt;

use crate::harness::{Harness, agency_item};

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    html: String,
}

async fn call(
    h: &Harness,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    lang: &str,
) -> Page {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("accept-language", lang);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let body = match form {
        Some(form) => {
            request = request.header("content-type", "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let response = h
        .ops_app()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        html: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET path` without a session.
async fn get(h: &Harness, path: &str, lang: &str) -> Page {
    call(h, Method::GET, path, None, None, lang).await
}

/// `POST path` of a form without a session (English).
async fn post(h: &Harness, path: &str, form: &str) -> Page {
    call(h, Method::POST, path, None, Some(form), "en").await
}

/// A browser holding a console session: its cookie and the CSRF token its pages carry.
struct Session<'h> {
    h: &'h Harness,
    cookie: String,
    csrf: String,
}

impl Session<'_> {
    /// `GET path` with the session's cookie, asking for `lang`.
    async fn get(&self, path: &str, lang: &str) -> Page {
        call(self.h, Method::GET, path, Some(&self.cookie), None, lang).await
    }

    /// `POST path` of `form` as it is (a forged or missing token), in English.
    async fn post(&self, path: &str, form: &str) -> Page {
        call(
            self.h,
            Method::POST,
            path,
            Some(&self.cookie),
            Some(form),
            "en",
        )
        .await
    }

    /// `POST path` of a form as the console's own forms send it: the session's CSRF
    /// token, then `fields` (`a=1&b=2`, or none).
    async fn submit(&self, path: &str, fields: &str) -> Page {
        let form = match fields {
            "" => format!("csrf={}", self.csrf),
            fields => format!("csrf={}&{fields}", self.csrf),
        };
        self.post(path, &form).await
    }
}

/// Logs in with `token`, checking the cookie's attributes and that the overview opens.
async fn login<'h>(h: &'h Harness, token: &str) -> Session<'h> {
    let page = post(h, "/console/login", &format!("token={token}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let set = page.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(
        !set.contains(token),
        "the operator token never goes in the cookie"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let overview = call(h, Method::GET, "/console/", Some(&cookie), None, "en").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
    let csrf = overview
        .html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    Session { h, cookie, csrf }
}

/// The audit entries with `action`.
async fn audited(h: &Harness, action: &str) -> Vec<rabt_store::AuditEntry> {
    h.store
        .audit_log(&AuditQuery {
            action: Some(action.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn dead_letter(h: &Harness) -> String {
    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let reply = h.post(&format!("k-{}", TaskId::new()), &body).await;
    let request: rabt_core::RequestId = reply.body["id"].as_str().unwrap().parse().unwrap();
    let task = h.stored(request).await.tasks[0].id;
    h.store.start_task(task, Utc::now()).await.unwrap();
    let recorded = h
        .store
        .record_dead_letter(&NewDeadLetter {
            agency: Agency::SaudiPost,
            task: Some(task),
            message_id: Some(task.to_string()),
            reason: "delivery_limit".into(),
            body: format!(r#"{{"v":"1","task":"{task}"}}"#).into_bytes(),
            headers: vec![],
            dead_at: Utc::now(),
        })
        .await
        .unwrap();
    recorded.id.to_string()
}

async fn letter_state(h: &Harness, id: &str) -> String {
    let letter = h
        .store
        .dead_letter(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    letter.state().as_str().to_owned()
}

#[tokio::test]
async fn pages_are_safe_bilingual_and_follow_the_role() {
    let h = Harness::new().await;
    let viewer = h.operator("sara", OperatorRole::Viewer).await;
    let admin = h.operator("amal", OperatorRole::Admin).await;
    let letter = dead_letter(&h).await;

    // Not logged in: pages send to the login form.
    let page = get(&h, "/console/requests", "ar").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers["location"], "/console/login");
    let form = get(&h, "/console/login", "ar").await;
    assert!(
        form.html.contains(r#"<html lang="ar" dir="rtl">"#),
        "{}",
        form.html
    );
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !form.html.contains("<script>") && !form.html.contains("style="),
        "nothing inline"
    );

    let letter_page = format!("/console/dead-letters/{letter}");
    let replay = format!("/console/dead-letters/{letter}/replay");
    let viewer = login(&h, &viewer).await;
    let page = viewer.get(&letter_page, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(r#"<html lang="en" dir="ltr">"#));
    assert!(
        !page.html.contains("/replay\""),
        "a viewer sees no replay control"
    );
    assert!(!page.html.contains("/purge\""));
    // ...and the server refuses it anyway: nothing changes.
    let refused = viewer.submit(&replay, "reason=try").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(letter_state(&h, &letter).await, "open");

    let admin = login(&h, &admin).await;
    let page = admin.get(&letter_page, "ar").await;
    assert!(
        page.html.contains("/replay\"") && page.html.contains("/purge\""),
        "an admin has both"
    );
    // Forged and missing CSRF tokens: 403, nothing replayed.
    for form in [
        "csrf=forged&reason=x".to_owned(),
        "reason=x".to_owned(),
        format!("csrf={}&reason=x", viewer.csrf),
    ] {
        let forged = admin.post(&replay, &form).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{form}");
    }
    assert_eq!(letter_state(&h, &letter).await, "open");
    let done = admin.submit(&replay, "reason=agency+back").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(letter_state(&h, &letter).await, "replayed");
    let reasons = audited(&h, "dead_letter.reason").await;
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].detail["reason"], "agency back");

    // Every page renders for the admin, in Arabic, with Arabic digits.
    for path in [
        "/console/",
        "/console/requests",
        "/console/dead-letters?state=all",
        "/console/cooperatives",
        "/console/agencies",
        "/console/audit",
    ] {
        let page = admin.get(path, "ar").await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        assert!(page.html.contains(r#"dir="rtl""#), "{path}");
    }
    let audit = admin.get("/console/audit?operator=amal", "ar").await;
    assert!(
        audit.html.contains("dead_letter.replayed"),
        "{}",
        audit.html
    );
}

#[tokio::test]
async fn bad_sessions_and_tokens_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    let admin = h.operator("amal", OperatorRole::Admin).await;
    let letter = dead_letter(&h).await;

    // Behind a TLS-terminating proxy the cookie is Secure.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/console/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from(format!("token={admin}")))
        .unwrap();
    let response = h.ops_app().oneshot(request).await.unwrap();
    let set = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure"), "{set}");

    // A cooperative's API key is not an operator token.
    let page = post(&h, "/console/login", &format!("token={}", h.key)).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.headers.get("set-cookie").is_none());
    assert!(!page.html.contains(&h.key), "the token is not echoed");

    // A tampered cookie and an expired session: pages go to the login form, actions 401.
    let purge = format!("/console/dead-letters/{letter}/purge");
    let session = login(&h, &admin).await;
    // The last character changed, whatever it was (an "x" replaced by "x" was no tampering).
    let (kept, last) = session.cookie.split_at(session.cookie.len() - 1);
    let tampered = Session {
        h: &h,
        cookie: format!("{kept}{}", if last == "x" { "y" } else { "x" }),
        csrf: session.csrf.clone(),
    };
    assert_ne!(tampered.cookie, session.cookie);
    let page = tampered.get("/console/", "en").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let action = tampered.submit(&purge, "reason=x&confirm=yes").await;
    assert_eq!(action.status, StatusCode::UNAUTHORIZED);
    let expired_token = generate_secret("");
    h.store
        .create_console_session(
            &hash_secret(&expired_token),
            "amal",
            "csrf-of-expired",
            Utc::now() - chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let expired = Session {
        h: &h,
        cookie: format!("rabt_console={expired_token}"),
        csrf: "csrf-of-expired".to_owned(),
    };
    let action = expired.submit(&purge, "reason=x&confirm=yes").await;
    assert_eq!(action.status, StatusCode::UNAUTHORIZED);
    assert_eq!(letter_state(&h, &letter).await, "open", "nothing purged");

    // Logout ends the session everywhere.
    let out = session.submit("/console/logout", "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let page = session.get("/console/", "en").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn failed_logins_are_limited() {
    let h = Harness::new().await;
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        last = post(&h, "/console/login", "token=rabt_op_wrong")
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Even the right token waits now.
    let token = h.operator("amal", OperatorRole::Admin).await;
    let page = post(&h, "/console/login", &format!("token={token}")).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_request_is_masked_and_only_an_admin_reveals_it_with_a_reason() {
    let h = Harness::with(
        &["post.address.verify", "interior.identity.verify"],
        Default::default(),
    )
    .await;
    let body = json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}});
    let reply = h.post("k-reveal", &body).await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let operator_token = h.operator("huda", OperatorRole::Operator).await;
    let admin = h.operator("amal", OperatorRole::Admin).await;

    let reveal = format!("/console/requests/{id}/reveal");
    let operator = login(&h, &operator_token).await;
    let page = operator.get(&format!("/console/requests/{id}"), "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("1000****08"), "{}", page.html);
    assert!(!page.html.contains("1000000008"));
    assert!(page.html.contains("request.accepted"), "the timeline");
    assert!(
        !page.html.contains("/reveal\""),
        "no reveal control below admin"
    );
    let refused = operator.submit(&reveal, "reason=x").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let admin = login(&h, &admin).await;
    let no_reason = admin.submit(&reveal, "").await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let revealed = admin.submit(&reveal, "reason=court+order+42").await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert!(revealed.html.contains("1000000008"));
    let audited = audited(&h, "request.revealed").await;
    assert_eq!(
        audited.len(),
        1,
        "one reveal, audited; the refused ones were not"
    );
    assert_eq!(audited[0].detail["reason"], "court order 42");
    assert!(!audited[0].detail.to_string().contains("1000000008"));
}

#[tokio::test]
async fn the_overview_reads_every_source_and_the_ops_api_serves_the_same() {
    let h = Harness::new().await;
    let viewer = h.operator("sara", OperatorRole::Viewer).await;
    h.store
        .heartbeat(
            "proc_1",
            "worker",
            "host-a",
            Utc::now(),
            &json!({"agencies": {"saudi-post": {"circuit": "open", "inFlight": 3}}}),
        )
        .await
        .unwrap();
    let reply = h
        .send(
            Method::GET,
            "/ops/v1/overview",
            &[("authorization", &format!("Bearer {viewer}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let post = agency_item(&reply.body["agencies"], "saudi-post");
    assert_eq!(post["workers"]["circuit"], "open");
    assert_eq!(post["workers"]["inFlight"], 3);
    assert_eq!(reply.body["readiness"]["database"], "ok");
    let page = login(&h, &viewer).await.get("/console/", "en").await;
    assert!(page.html.contains("circuit open"), "{}", page.html);
    assert!(page.html.contains(r#"sse-connect="/console/events""#));
    let asset = get(&h, "/console/static/htmx.min.js", "en").await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.html.contains("htmx"));
}
