//! One HTTP exchange with an agency on behalf of a task: what every request carries
//! ([`CallContext`]), sending it and reading the whole answer ([`send`], [`Reply`]), and
//! reading what came back without ever quoting a raw body ([`read_json`],
//! [`quote_code`]). The status tables stay with each adapter: agencies differ there.

use std::future::Future;
use std::time::Duration;

use rabt_core::TaskId;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::{REQUEST_ID, TRACEPARENT, classify_send_error};
use crate::{AdapterError, ServiceCall};

/// What every HTTP exchange of one call carries: the task id, the task's trace, and the
/// time the call may take.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// Sent as `X-Request-Id` (on token requests too), so that the agency can recognise
    /// a retried call.
    pub task: TaskId,
    /// The longest one HTTP exchange may take.
    pub timeout: Duration,
    /// Forwarded as `traceparent`.
    pub traceparent: Option<&'a str>,
}

impl<'a> CallContext<'a> {
    /// The context of `call`, whose timeout is bounded by the adapter's configured
    /// `ceiling`: a task may ask for less time than the adapter allows, never more.
    pub fn of(call: &ServiceCall<'a>, ceiling: Duration) -> Self {
        Self {
            task: call.task,
            timeout: call.timeout.min(ceiling),
            traceparent: call.traceparent,
        }
    }

    /// `request` with the task id as `X-Request-Id`, the `traceparent` if there is one,
    /// and this context's timeout.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request
            .header(REQUEST_ID, self.task.to_string())
            .timeout(self.timeout);
        match self.traceparent {
            Some(traceparent) => request.header(TRACEPARENT, traceparent),
            None => request,
        }
    }

    /// Runs `work` within this context's timeout, or answers
    /// [`AdapterError::Timeout`]: for a call of several exchanges (a token request, a
    /// second round), where the whole call, not each exchange, must end in time, and
    /// reading and mapping the answer count too.
    pub async fn bound<T>(
        &self,
        work: impl Future<Output = Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(AdapterError::Timeout(self.timeout)))
    }
}

/// An agency's answer, read whole: its status is the adapter's to classify.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers (`Retry-After` among them).
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// The largest agency answer Rabt reads. Its agencies answer a few kilobytes (a batch
/// of health certificates, the largest, stays under 100 KB); an answer past this is
/// broken or hostile, and reading it whole would let one agency fill a worker's memory.
pub const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

impl Reply {
    /// Reads a response to its end, at most [`MAX_ANSWER_BYTES`] of it: a longer one is
    /// [`AdapterError::Malformed`] (a declared `Content-Length` above the limit before a
    /// byte of the body is read). The whole exchange, body included, is bounded by the
    /// call's `timeout` (reqwest's request timeout), so an agency trickling its answer
    /// is cut off then. A body cut off mid-way is classified as [`classify_send_error`]
    /// says.
    pub async fn read(mut response: Response, timeout: Duration) -> Result<Self, AdapterError> {
        let status = response.status();
        let headers = response.headers().clone();
        let too_large = |n: u64| {
            AdapterError::Malformed(format!(
                "answer of {n} bytes or more, above the {MAX_ANSWER_BYTES} read"
            ))
        };
        if let Some(declared) = response.content_length()
            && declared > MAX_ANSWER_BYTES as u64
        {
            return Err(too_large(declared));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify_send_error(e, timeout))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Self {
            status,
            headers,
            body,
        })
    }
}

/// Sends `request` with what `ctx` says every request carries ([`CallContext::apply`])
/// and reads the whole answer. A failure to get one (refused, reset, timed out) is
/// classified by [`classify_send_error`]; any status is an answer.
pub async fn send(request: RequestBuilder, ctx: CallContext<'_>) -> Result<Reply, AdapterError> {
    let response = execute(request, ctx).await?;
    Reply::read(response, ctx.timeout).await
}

/// Sends `request` with what `ctx` says every request carries and returns the response
/// once its head arrived.
///
/// The HTTP attributes of the exchange (method, server, scheme, status) are recorded on
/// the current `tracing` span, the worker's span of the agency call, whose fields name
/// them; never the path or query, which may hold an identifier. A span without those
/// fields ignores them. Numbers as `i64`, which OpenTelemetry keeps as numbers.
pub(crate) async fn execute(
    request: RequestBuilder,
    ctx: CallContext<'_>,
) -> Result<Response, AdapterError> {
    let (client, request) = ctx.apply(request).build_split();
    let request = request.map_err(|e| classify_send_error(e, ctx.timeout))?;
    let span = tracing::Span::current();
    span.record("http.request.method", request.method().as_str());
    span.record("url.scheme", request.url().scheme());
    if let Some(host) = request.url().host_str() {
        span.record("server.address", host);
    }
    if let Some(port) = request.url().port_or_known_default() {
        span.record("server.port", i64::from(port));
    }
    let response = client
        .execute(request)
        .await
        .map_err(|e| classify_send_error(e, ctx.timeout))?;
    span.record(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    Ok(response)
}

/// Reads an answer's JSON body as `T`, or [`AdapterError::Malformed`] saying
/// `"{what}: {why}"` (serde's reason names a field or a position, never a value).
pub fn read_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, AdapterError> {
    serde_json::from_slice(body).map_err(|e| AdapterError::Malformed(format!("{what}: {e}")))
}

/// What [`quote_code`] says of a body that is not the agency's error.
pub const NO_READABLE_REASON: &str = "no readable reason";

/// The agency's own short code for an error, safe to put in a reason: `code` picks it
/// from the body read as the agency's error type `E`, cut to `max_chars`; a body that is
/// no `E` gives [`NO_READABLE_REASON`]. Never the raw body nor the agency's messages,
/// which could echo personal data or credentials back.
pub fn quote_code<E: DeserializeOwned>(
    body: &[u8],
    max_chars: usize,
    code: impl FnOnce(E) -> String,
) -> String {
    serde_json::from_slice::<E>(body)
        .map(|e| code(e).chars().take(max_chars).collect())
        .unwrap_or_else(|_| NO_READABLE_REASON.to_owned())
}

#[cfg(test)]
mod tests {
    use rabt_core::ServiceName;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct AgencyError {
        code: String,
    }

    #[test]
    fn a_context_takes_the_shorter_timeout() {
        let service = ServiceName::parse("post.address.verify").unwrap();
        let input = serde_json::Value::Null;
        let call = ServiceCall {
            task: TaskId::new(),
            service: &service,
            input: &input,
            attempt: 1,
            timeout: Duration::from_secs(30),
            traceparent: Some("00-trace"),
        };
        let ctx = CallContext::of(&call, Duration::from_secs(5));
        assert_eq!(ctx.timeout, Duration::from_secs(5));
        assert_eq!((ctx.task, ctx.traceparent), (call.task, Some("00-trace")));
        let ctx = CallContext::of(&call, Duration::from_secs(60));
        assert_eq!(ctx.timeout, Duration::from_secs(30));
    }

    #[test]
    fn requests_carry_the_task_id_and_the_trace() {
        let task = TaskId::new();
        let ctx = CallContext {
            task,
            timeout: Duration::from_secs(3),
            traceparent: Some("00-trace"),
        };
        let request = ctx
            .apply(reqwest::Client::new().get("http://127.0.0.1:9/"))
            .build()
            .unwrap();
        let header = |name| request.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header(REQUEST_ID), task.to_string());
        assert_eq!(header(TRACEPARENT), "00-trace");
        assert_eq!(request.timeout(), Some(&Duration::from_secs(3)));
        let untraced = CallContext {
            traceparent: None,
            ..ctx
        };
        let request = untraced
            .apply(reqwest::Client::new().get("http://127.0.0.1:9/"))
            .build()
            .unwrap();
        assert!(request.headers().get(TRACEPARENT).is_none());
    }

    #[tokio::test]
    async fn work_beyond_the_timeout_is_a_timeout() {
        let ctx = CallContext {
            task: TaskId::new(),
            timeout: Duration::from_millis(10),
            traceparent: None,
        };
        let never = std::future::pending::<Result<(), AdapterError>>();
        assert!(
            matches!(ctx.bound(never).await, Err(AdapterError::Timeout(t)) if t == ctx.timeout)
        );
        assert_eq!(ctx.bound(async { Ok(7) }).await.unwrap(), 7);
    }

    /// A one-shot HTTP server on a raw socket: it answers the first request with `head`
    /// and then writes `chunk` every `pause` until the client goes away.
    async fn agency_streaming(head: &'static str, chunk: Vec<u8>, pause: Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while socket.write_all(&chunk).await.is_ok() {
                tokio::time::sleep(pause).await;
            }
        });
        format!("http://{address}/")
    }

    fn context(timeout: Duration) -> CallContext<'static> {
        CallContext {
            task: TaskId::new(),
            timeout,
            traceparent: None,
        }
    }

    #[tokio::test]
    async fn an_agency_streaming_without_end_is_cut_off_at_the_limit() {
        let url = agency_streaming(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
            vec![b' '; 64 * 1024],
            Duration::ZERO,
        )
        .await;
        let started = std::time::Instant::now();
        let request = reqwest::Client::new().get(url);
        let err = send(request, context(Duration::from_secs(20)))
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::Malformed(_)), "{err:?}");
        assert!(err.is_retryable());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_declared_gigabyte_is_refused_before_it_is_read() {
        let url = agency_streaming(
            "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n",
            vec![b'x'; 1024],
            Duration::from_millis(50),
        )
        .await;
        let err = send(
            reqwest::Client::new().get(url),
            context(Duration::from_secs(20)),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("1073741824"), "{err}");
    }

    #[tokio::test]
    async fn an_agency_trickling_its_answer_is_cut_off_at_the_timeout() {
        let url = agency_streaming(
            "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n",
            b"{".to_vec(),
            Duration::from_millis(200),
        )
        .await;
        let started = std::time::Instant::now();
        let timeout = Duration::from_secs(1);
        let err = send(reqwest::Client::new().get(url), context(timeout))
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::Timeout(_)), "{err:?}");
        assert!(started.elapsed() < timeout * 3, "{:?}", started.elapsed());
    }

    #[test]
    fn unreadable_json_is_malformed_with_its_reason() {
        let err = read_json::<AgencyError>(b"{\"code\": tru", "X's acceptance is unreadable")
            .unwrap_err();
        assert!(matches!(err, AdapterError::Malformed(_)));
        assert!(
            err.to_string().contains("X's acceptance is unreadable: "),
            "{err}"
        );
        let ok: AgencyError = read_json(br#"{"code": "E1"}"#, "x").unwrap();
        assert_eq!(ok.code, "E1");
    }

    #[test]
    fn only_codes_are_quoted_cut_short() {
        let quote = |body: &[u8]| quote_code::<AgencyError>(body, 4, |e| e.code);
        assert_eq!(quote(br#"{"code": "E1", "message": "1000000008"}"#), "E1");
        assert_eq!(quote(br#"{"code": "ABCDEFG"}"#), "ABCD");
        assert_eq!(quote(b"<html>secret</html>"), NO_READABLE_REASON);
    }
}
