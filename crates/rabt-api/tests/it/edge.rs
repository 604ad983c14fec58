//! The listener's limits, on a real socket (issue 14, OWASP API4): idle and slow
//! clients are cut off, oversized headers refused, the number of connections capped,
//! and a client trickling its body answered 408; normal requests are served meanwhile.

use std::time::{Duration, Instant};

use rabt_api::ApiSettings;
use rabt_api::edge::EdgeSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::harness::Harness;

/// An API served on a real port with `edge`, stopped when dropped.
struct Served {
    address: std::net::SocketAddr,
    stop: CancellationToken,
    _harness: Harness,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(edge: EdgeSettings) -> Served {
    let settings = ApiSettings {
        edge,
        ..ApiSettings::default()
    };
    let harness = Harness::with(&["post.address.verify"], settings).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let listeners = rabt_api::Listeners {
        api: listener,
        ops: None,
    };
    tokio::spawn(rabt_api::serve(
        listeners,
        harness.state.clone(),
        stop.clone(),
    ));
    Served {
        address,
        stop,
        _harness: harness,
    }
}

fn quick() -> EdgeSettings {
    EdgeSettings {
        max_connections: 64,
        header_read_timeout: Duration::from_millis(600),
        max_header_bytes: 4096,
        body_read_timeout: Duration::from_millis(800),
    }
}

/// Reads until the server closes the connection (or `within` passes: `None`).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// One `GET /healthz` on a new connection: its status line.
async fn health(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: rabt\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("an answer");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn idle_and_slow_clients_are_cut_off_while_others_are_served() {
    let served = serve(quick()).await;
    let started = Instant::now();
    // Connected, never a byte.
    let mut idle = TcpStream::connect(served.address).await.unwrap();
    // A request line a byte every 150 ms: never whole within the timeout.
    let mut slow = TcpStream::connect(served.address).await.unwrap();
    let address = served.address;
    let trickle = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nhost: rabt\r\n" {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        read_until_closed(&mut slow, Duration::from_secs(5)).await
    });
    // A kept-alive connection after one answer, then silent.
    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: rabt\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = kept.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &first[..n]);
    // Served throughout.
    assert_eq!(health(address).await, "HTTP/1.1 200 OK");

    for (what, stream) in [("idle", &mut idle), ("kept alive", &mut kept)] {
        let closed = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "the {what} connection is still open");
    }
    let slow = trickle.await.unwrap();
    let slow = slow.expect("the slow connection is still open");
    assert!(
        !String::from_utf8_lossy(&slow).contains("200 OK"),
        "the slow request was served"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(health(address).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn headers_past_the_limit_get_431() {
    let served = serve(quick()).await;
    let mut stream = TcpStream::connect(served.address).await.unwrap();
    let padding = "a".repeat(8 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nhost: rabt\r\nx-padding: {padding}\r\n\r\n");
    // The server may stop reading before all of it is sent.
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed after the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn a_body_trickled_past_the_timeout_gets_408_and_the_connection_closes() {
    let served = serve(quick()).await;
    let mut stream = TcpStream::connect(served.address).await.unwrap();
    stream
        .write_all(
            b"POST /v1/requests HTTP/1.1\r\nhost: rabt\r\ncontent-type: application/json\r\n\
              idempotency-key: k\r\nauthorization: Bearer x\r\ncontent-length: 200\r\n\r\n{",
        )
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        let mut stream = stream;
        let mut answer = Vec::new();
        for _ in 0..40 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            let mut buffer = [0u8; 2048];
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
                Err(_) => {}
            }
        }
        answer
    });
    let answer = String::from_utf8(writer.await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:rabt:problem:request-timeout"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let served = serve(EdgeSettings {
        max_connections: 4,
        header_read_timeout: Duration::from_secs(30),
        ..quick()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(served.address).await.unwrap());
    }
    // Give the server the moment it needs to accept those four (polled, bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut extra = TcpStream::connect(served.address).await.unwrap();
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: rabt\r\n\r\n")
            .await;
        let answer = read_until_closed(&mut extra, Duration::from_secs(2)).await;
        if answer.as_deref() == Some(b"".as_slice()) {
            break; // closed without an answer: the cap
        }
        assert!(Instant::now() < deadline, "never refused: {answer:?}");
    }
    // One of the held connections goes away: a new client is served again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(served.address).await.unwrap();
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: rabt\r\nconnection: close\r\n\r\n")
            .await;
        let answer = read_until_closed(&mut stream, Duration::from_secs(2))
            .await
            .unwrap_or_default();
        if answer.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "not served after a slot freed");
    }
}
