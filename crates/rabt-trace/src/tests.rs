use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_valid_traceparent_round_trips() {
    let context = parse(TP).unwrap();
    assert!(context.is_remote());
    assert!(context.is_sampled());
    assert_eq!(format(&context).as_deref(), Some(TP));
    assert_eq!(
        trace_id_of(TP).as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

#[test]
fn malformed_traceparents_are_refused() {
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        assert!(parse(bad).is_none(), "{bad:?} accepted");
    }
    // A later version with more fields is read as version 00.
    assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab").is_some());
}

#[test]
fn without_the_layer_spans_have_no_context() {
    let span = tracing::info_span!("x");
    assert_eq!(traceparent(&span), None);
    assert_eq!(trace_id(&span), None);
    assert!(!set_parent(&span, Some(TP)));
}

fn with_layer<T>(f: impl FnOnce() -> T) -> T {
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, f)
}

#[test]
fn a_span_continues_the_trace_it_is_given() {
    with_layer(|| {
        let span = producer("rabt.tasks", "labor", "m-1", Some(TP));
        let child = traceparent(&span).unwrap();
        let child = parse(&child).unwrap();
        assert_eq!(
            child.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(child.span_id().to_string(), "00f067aa0ba902b7");
    });
}

#[test]
fn without_a_traceparent_a_new_trace_starts() {
    with_layer(|| {
        let a = http_server("POST", Some("/v1/requests"), "/v1/requests", None);
        let b = http_server(
            "POST",
            Some("/v1/requests"),
            "/v1/requests",
            Some("garbage"),
        );
        let (a, b) = (trace_id(&a).unwrap(), trace_id(&b).unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    });
}
