//! `rabt serve` in production shape: api and worker processes on PostgreSQL and
//! RabbitMQ, the Saudi Post simulator behind them.

use std::time::Duration;

use rabt_tests::Deployment;
use serde_json::json;

#[tokio::test]
async fn serve_answers_through_rabbitmq_and_postgresql_and_stops_cleanly() {
    let mut deployment = Deployment::start(1, "post.address.verify").await.unwrap();
    let client = &deployment.client;

    let (status, body) = client
        .submit(&json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "reference": "hq"}), Some(10))
        .await
        .unwrap();
    assert_eq!(
        status,
        200,
        "{body}\nworker log:\n{}",
        deployment.workers[0].tail(30)
    );
    assert_eq!(body["outcome"], "OK");
    assert_eq!(body["data"]["city"]["ar"], "الرياض");
    assert_eq!(body["data"]["city"]["en"], "Riyadh");
    assert_eq!(body["reference"], "hq");

    let (status, body) = client
        .submit(&json!({"service": "post.address.verify", "input": {"buildingNumber": "2929", "postalCode": body["data"]["postalCode"], "additionalNumber": body["data"]["additionalNumber"]}}), Some(10))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "OK", "verify by numbers: {body}");

    let (status, body) = client
        .submit(
            &json!({"service": "post.address.verify", "input": {"shortAddress": "ZZZZ9999"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 202);
    let done = client
        .completed(body["id"].as_str().unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done["outcome"], "NOT_FOUND");

    let (status, listed) = client
        .get("/v1/requests?service=post.address.verify&limit=2")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let next = listed["links"]["next"].as_str().expect("a next page");
    let (_, rest) = client.get(next).await.unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["links"]["next"].is_null());

    // SIGTERM: both roles finish what they hold and exit 0.
    let worker_clean = deployment.workers[0]
        .terminate(Duration::from_secs(30))
        .unwrap();
    let api_clean = deployment.api.terminate(Duration::from_secs(30)).unwrap();
    assert!(
        worker_clean,
        "worker did not exit cleanly:\n{}",
        deployment.workers[0].tail(20)
    );
    assert!(
        api_clean,
        "api did not exit cleanly:\n{}",
        deployment.api.tail(20)
    );
}
