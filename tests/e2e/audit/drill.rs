//! One deployment on PostgreSQL and RabbitMQ through requests of every kind: the
//! cooperative's evidence checked by pymerkle and cryptography and by the script
//! docs/api.md gives cooperatives; no person of the fixture world in any log line,
//! stored error, audit entry or metric; the operators' search by identity number; then
//! the tamper drill.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rabt_tests::pii::{Needles, SEED};
use rabt_tests::{AUDIT_ORIGIN, Deployment};
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

use super::{all_sealed, completed, database, evidence};

const SERVICES: &str = "post.address.verify,interior.identity.verify,interior.mobile.verify,\
                        health.certificates.verify,cooperative.establishment.check";

fn identity(id: &str, month: u32) -> Value {
    json!({"service": "interior.identity.verify", "input": {
        "idNumber": id, "birthDate": {"calendar": "hijri", "year": 1400, "month": month},
        "expectedNameAr": "محمد عبدالله سعد القحطاني",
    }})
}

/// Requests of every service, answered every way, with personal data in their inputs
/// and the agencies' answers; the id of the golden citizen's identity check.
async fn traffic(deployment: &Deployment) -> String {
    let client = &deployment.client;
    completed(
        client,
        &json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}),
    )
    .await;
    let golden = completed(client, &identity("1000000008", 7)).await;
    completed(client, &identity("1000000008", 6)).await; // MISMATCH
    completed(client, &identity("1000000990", 7)).await; // NOT_FOUND
    for mobile in ["0512345678", "0501000016"] {
        let body = json!({"service": "interior.mobile.verify", "input": {"idNumber": "1000000008", "mobile": mobile}});
        completed(client, &body).await;
    }
    let workers = ["1000000057", "2000000006", "2000000014", "2000000030"];
    let body = json!({"service": "health.certificates.verify", "input": {
        "establishmentLicenseNumber": "4000067890", "idNumbers": workers}});
    completed(client, &body).await;
    let board = json!([
        {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
        {"idNumber": "1000000016", "birthDate": {"calendar": "hijri", "year": 1392, "month": 11}},
    ]);
    for unified in ["7000000001", "7000000002"] {
        let body = json!({"service": "cooperative.establishment.check", "input": {"unifiedNumber": unified, "board": board}});
        completed(client, &body).await;
    }
    // Refused at the edge: the field is named, its value never echoed.
    let (status, problem) = client
        .submit(
            &json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000016"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    assert!(!problem.to_string().contains("1000000016"), "{problem}");
    // A forged callback carrying a person: refused, never audited, its body never logged.
    let forged = client
        .http()
        .post(format!("{}/v1/callbacks/health", client.base_url))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", chrono_now())
        .header("webhook-signature", "v1,Zm9yZ2VkIHNpZ25hdHVyZSBvZiB0aGlydHkgdHdvIGJ5dGVzISE=")
        .body(json!({"reference": "x", "workers": [{"idNumber": "1000000024", "name": "سلطان عبدالرحمن فيصل الشهري"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    golden
}

fn chrono_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default()
}

/// Every text column that holds errors or the audit log, as `place: text` pairs.
async fn stored_texts(pool: &AnyPool) -> Vec<(String, String)> {
    let queries = [
        (
            "tasks.last_error",
            "SELECT COALESCE(last_error, '') AS t FROM tasks",
        ),
        (
            "notifications.last_error",
            "SELECT COALESCE(last_error, '') AS t FROM notifications",
        ),
        (
            "notification_attempts.error",
            "SELECT COALESCE(error, '') AS t FROM notification_attempts",
        ),
        (
            "dead_letters.reason",
            "SELECT reason AS t FROM dead_letters",
        ),
        (
            "audit_log",
            "SELECT COALESCE(actor_id, '') || ' ' || action || ' ' || COALESCE(outcome, '') || ' ' || detail AS t FROM audit_log",
        ),
        (
            "audit_leaves.canonical",
            "SELECT canonical AS t FROM audit_leaves",
        ),
        (
            "audit_checkpoints.note",
            "SELECT note AS t FROM audit_checkpoints",
        ),
    ];
    let mut texts = Vec::new();
    for (place, sql) in queries {
        for row in sqlx::query(sql).fetch_all(pool).await.unwrap() {
            texts.push((place.to_owned(), row.try_get::<String, _>("t").unwrap()));
        }
    }
    texts
}

/// No person of the fixture world in the deployment's logs, stored errors, audit log or
/// metrics.
async fn assert_no_personal_data(deployment: &Deployment, pool: &AnyPool) {
    let needles = Needles::of_world(SEED);
    let (files, mut found) = needles.scan_dir(&deployment.wiring.dir).unwrap();
    assert!(files >= 3, "the api, worker and simulator logs: {files}");
    for (place, text) in stored_texts(pool).await {
        found.extend(needles.scan(&text, &place));
    }
    let metrics = reqwest::get(format!("{}/metrics", deployment.wiring.ops_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("rabt_audit_tree_size") || metrics.contains("rabt_requests_accepted"));
    found.extend(needles.scan(&metrics, "/metrics"));
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "personal data found:\n{}",
        shown.join("\n")
    );
    // The inputs did hold the people: the scan can see them where they belong.
    let inputs: Vec<String> = sqlx::query("SELECT input FROM requests")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("input").unwrap())
        .collect();
    assert!(
        !needles
            .scan(&inputs.join("\n"), "requests.input")
            .is_empty()
    );
}

/// The cooperative's own check (docs/verify_evidence.py), run as docs/api.md says.
fn cooperative_script(
    deployment: &Deployment,
    key: &str,
    id: &str,
    state: &std::path::Path,
) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/verify_evidence.py");
    let output = Command::new(rabt_test_support::python())
        .args([
            script,
            "--base-url",
            &deployment.client.base_url,
            "--api-key",
        ])
        .arg(deployment.client.api_key())
        .args(["--key", key, "--state"])
        .arg(state)
        .arg(id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "verify_evidence.py: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_sealed_log_proves_requests_keeps_people_out_and_catches_tampering() {
    let deployment = Deployment::start(1, SERVICES).await.unwrap();
    let pool = database(&deployment).await;
    let key_text = reqwest::get(format!("{}/v1/audit/key", deployment.client.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = key_text.trim().to_owned();
    assert!(key.starts_with(&format!("{AUDIT_ORIGIN}+")), "{key}");

    let first = completed(&deployment.client, &identity("1000000008", 7)).await;
    let state = deployment.wiring.dir.join("checkpoint.txt");
    let said = cooperative_script(&deployment, &key, &first, &state);
    assert!(
        said.contains("every sealed entry of the request is in the signed log"),
        "{said}"
    );

    let golden = traffic(&deployment).await;
    let proof = evidence(&deployment.client, &golden).await;
    assert_eq!(proof["pending"], 0, "{proof}");
    // The cooperative's script again: inclusion, and the log only grew since its last look.
    let said = cooperative_script(&deployment, &key, &golden, &state);
    assert!(
        said.contains("the log only grew since the checkpoint"),
        "{said}"
    );

    // The independent verifiers on what the API returned.
    let note = proof["checkpoint"].as_str().unwrap();
    let size = proof["tree_size"].as_u64().unwrap();
    let root = note.lines().nth(2).unwrap();
    let inclusion: Vec<Value> = proof["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!({"leaf": e["canonical"], "index": e["leaf_index"], "size": size, "proof": e["inclusion_proof"], "root": root}))
        .collect();
    for entry in proof["entries"].as_array().unwrap() {
        let canonical = BASE64.decode(entry["canonical"].as_str().unwrap()).unwrap();
        assert!(!String::from_utf8_lossy(&canonical).contains("1000000008"));
    }
    let summary = rabt_test_support::audit_check(&json!({
        "inclusion": inclusion,
        "checkpoints": [{"note": note, "key": key, "origin": AUDIT_ORIGIN}],
    }));
    assert_eq!(summary["inclusion"], inclusion.len());

    assert_no_personal_data(&deployment, &pool).await;

    // The operators' search finds the golden citizen's requests by number.
    let found = deployment
        .wiring
        .run(&[
            "audit",
            "search",
            "--id-number",
            "1000000008",
            "--operator",
            "drill",
        ])
        .unwrap();
    assert!(found.contains(&golden) && found.contains(&first), "{found}");

    tamper_drill(deployment, &pool).await;
}

/// As an attacker with the database's keys: triggers off, then change, delete, insert
/// and swap sealed entries. `rabt audit verify` names each.
async fn tamper_drill(mut deployment: Deployment, pool: &AnyPool) {
    let verify = |deployment: &Deployment| deployment.wiring.run(&["audit", "verify"]);
    verify(&deployment).expect("the untouched log verifies");
    let sealed = all_sealed(pool).await;
    // Nothing writes while the attacker works.
    deployment.api.kill();
    for worker in &mut deployment.workers {
        worker.kill();
    }
    assert!(sealed.len() > 50, "{}", sealed.len());
    let sql = |text: String| {
        let pool = pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(text))
                .execute(&pool)
                .await
                .unwrap()
        }
    };
    sql("ALTER TABLE audit_log DISABLE TRIGGER USER".into()).await;
    sql("ALTER TABLE audit_log ALTER COLUMN seq SET GENERATED BY DEFAULT".into()).await;
    let failure = |deployment: &Deployment| match verify(deployment) {
        Ok(out) => panic!("tampering went unnoticed: {out}"),
        Err(err) => err.to_string(),
    };

    // Changed: a failed check made to look passed.
    let changed = sealed[10];
    sql(format!(
        "UPDATE audit_log SET outcome = 'OK', detail = '{{\"forged\": true}}' WHERE seq = {changed}"
    ))
    .await;
    let said = failure(&deployment);
    assert!(
        said.contains(&format!("entry {changed} (leaf 10) was changed")),
        "{said}"
    );
    restore(pool, changed).await;
    verify(&deployment).expect("restored, it verifies again");

    // Missing: an entry deleted.
    let deleted = sealed[20];
    sql(format!(
        "CREATE TABLE stash AS SELECT * FROM audit_log WHERE seq = {deleted}"
    ))
    .await;
    sql(format!("DELETE FROM audit_log WHERE seq = {deleted}")).await;
    let said = failure(&deployment);
    assert!(
        said.contains(&format!("entry {deleted} (leaf 20) is missing")),
        "{said}"
    );
    sql("INSERT INTO audit_log SELECT * FROM stash".into()).await;
    sql("DROP TABLE stash".into()).await;
    verify(&deployment).expect("restored, it verifies again");

    // Inserted: a back-dated entry slipped in, the later ones renumbered.
    let at = sealed[30];
    for seq in sealed[30..].iter().rev() {
        sql(format!(
            "UPDATE audit_log SET seq = seq + 1 WHERE seq = {seq}"
        ))
        .await;
    }
    sql(format!(
        "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, request_id, outcome, detail) \
         SELECT {at}, at, actor_kind, actor_id, 'request.completed', request_id, 'PASS', '{{}}' \
         FROM audit_log WHERE seq = {}",
        sealed[29]
    ))
    .await;
    let said = failure(&deployment);
    assert!(said.contains(&format!("entry {at} was inserted")), "{said}");
    sql(format!("DELETE FROM audit_log WHERE seq = {at}")).await;
    for seq in &sealed[30..] {
        sql(format!(
            "UPDATE audit_log SET seq = seq - 1 WHERE seq = {}",
            seq + 1
        ))
        .await;
    }
    verify(&deployment).expect("restored, it verifies again");

    // Reordered: two entries swapped.
    let (a, b) = (sealed[40], sealed[45]);
    sql(format!(
        "CREATE TABLE stash AS SELECT * FROM audit_log WHERE seq IN ({a}, {b})"
    ))
    .await;
    sql(format!("UPDATE audit_log SET seq = -1 WHERE seq = {a}")).await;
    sql(format!("UPDATE audit_log SET seq = {a} WHERE seq = {b}")).await;
    sql(format!("UPDATE audit_log SET seq = {b} WHERE seq = -1")).await;
    let said = failure(&deployment);
    assert!(
        said.contains(&format!(
            "entry {a} (leaf 40) was reordered: it holds what was sealed as entry {b}"
        )),
        "{said}"
    );
    sql(format!("DELETE FROM audit_log WHERE seq IN ({a}, {b})")).await;
    sql("INSERT INTO audit_log SELECT * FROM stash".into()).await;
    verify(&deployment).expect("restored, it verifies again");
}

/// Puts a changed entry back from its sealed bytes.
async fn restore(pool: &AnyPool, seq: i64) {
    let row = sqlx::query("SELECT canonical FROM audit_leaves WHERE seq = $1")
        .bind(seq)
        .fetch_one(pool)
        .await
        .unwrap();
    let canonical: String = row.try_get("canonical").unwrap();
    let sealed: Value = serde_json::from_str(&canonical).unwrap();
    sqlx::query("UPDATE audit_log SET outcome = $1, detail = $2 WHERE seq = $3")
        .bind(sealed["outcome"].as_str().map(str::to_owned))
        .bind(sealed["detail"].to_string())
        .bind(seq)
        .execute(pool)
        .await
        .unwrap();
}
