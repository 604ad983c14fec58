//! A TCP proxy in front of the test broker that can go silent: existing connections
//! stop carrying bytes (both ways) while their sockets stay open — the half-open
//! connection after a network fault or a frozen broker, which only heartbeats reveal.
//! New connections pass normally.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) struct SilentProxy {
    pub(crate) addr: SocketAddr,
    /// Connections with a number below this carry nothing any more.
    silenced_below: Arc<AtomicU64>,
    next_id: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl SilentProxy {
    pub(crate) async fn start(upstream: SocketAddr) -> SilentProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silenced_below = Arc::new(AtomicU64::new(0));
        let next_id = Arc::new(AtomicU64::new(0));
        let (silenced, ids) = (Arc::clone(&silenced_below), Arc::clone(&next_id));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = ids.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, id, Arc::clone(&silenced)));
            }
        });
        SilentProxy {
            addr,
            silenced_below,
            next_id,
            accept,
        }
    }

    /// Every connection made so far goes silent; later ones work.
    pub(crate) fn silence_existing(&self) {
        let next = self.next_id.load(Ordering::SeqCst);
        self.silenced_below.store(next, Ordering::SeqCst);
    }
}

impl Drop for SilentProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, id: u64, silenced: Arc<AtomicU64>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, id, Arc::clone(&silenced));
    let down = pump(server_read, client_write, id, silenced);
    let _ = tokio::join!(up, down);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    id: u64,
    silenced: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if id < silenced.load(Ordering::SeqCst) {
            // Silent: swallow everything and never close, like a dead network path.
            std::future::pending::<()>().await;
        }
        if n == 0 || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
