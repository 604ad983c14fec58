//! Mutual TLS for the simulators of agencies that require it (chambers today): a rustls
//! server that refuses every connection whose client certificate is missing or not
//! signed by the CA it trusts, served with axum, and the throwaway [`pki`] it serves
//! with.
//!
//! The handshake happens before HTTP: a caller without the right certificate never
//! reaches a handler, so the simulator's call statistics do not even count it, as a
//! real mTLS gateway never shows such a caller to its backend.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::simulator::{ShutdownHandle, serve_on};
use axum::Router;
use axum::serve::Listener;
use rabt_adapter::http::SecretBytes;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

mod pki;

pub use pki::{CertifiedPem, SERVER_NAMES, SandboxPki};

/// Why a TLS server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key is not PEM.
    #[error("the {what} is not valid PEM")]
    Pem {
        /// Which one.
        what: &'static str,
        /// What the parser said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A PEM bundle holds no certificate.
    #[error("the {0} bundle holds no certificate")]
    NoCertificate(&'static str),
    /// rustls refused the certificate, the key or the CA.
    #[error("the simulator's TLS configuration is invalid")]
    Tls(#[source] rustls::Error),
    /// The verifier of client certificates could not be built.
    #[error("the simulator's client CA cannot verify certificates")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// A sandbox certificate could not be generated.
    #[error("a sandbox certificate could not be generated")]
    Certificate(#[source] rcgen::Error),
    /// The server could not listen.
    #[error("the simulator could not listen")]
    Listen(#[source] io::Error),
}

/// How long a client may take over its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the simulator's TLS server needs: its own certificate and key, and the CA whose
/// client certificates it accepts.
#[derive(Clone)]
pub struct ServerTls {
    /// The server's certificate chain, PEM, leaf first.
    pub cert_chain_pem: Vec<u8>,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: SecretBytes,
    /// The CA (one or more PEM certificates) that must have signed a client's
    /// certificate.
    pub client_ca_pem: Vec<u8>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The certificates are public, but a page of base64 helps no log reader.
        f.debug_struct("ServerTls")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &self.key_pem)
            .field(
                "client_ca_pem",
                &format_args!("{} bytes", self.client_ca_pem.len()),
            )
            .finish()
    }
}

impl ServerTls {
    /// The rustls configuration: TLS 1.2 and 1.3 with aws-lc-rs (the provider of the rest
    /// of the workspace), a client certificate required and checked against
    /// `client_ca_pem`, HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = certificates(&self.cert_chain_pem, "server certificate")?;
        let key =
            PrivateKeyDer::from_pem_slice(&self.key_pem.0).map_err(|source| TlsError::Pem {
                what: "server key",
                source,
            })?;
        let mut roots = RootCertStore::empty();
        for ca in certificates(&self.client_ca_pem, "client CA")? {
            roots.add(ca).map_err(TlsError::Tls)?;
        }
        // Without `allow_unauthenticated`, the verifier refuses a client that presents
        // no certificate: that is the point.
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(TlsError::ClientVerifier)?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(TlsError::Tls)?;
        // axum serves HTTP/1.1 here; say so, so that no client tries HTTP/2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Every certificate of a PEM bundle; at least one.
fn certificates(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem { what, source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(what));
    }
    Ok(certs)
}

/// A TCP listener whose connections come out only after a successful TLS handshake.
/// Handshakes run concurrently, so a slow or hostile client holds up no other.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Listens at `addr` with this TLS configuration.
    pub async fn bind(addr: SocketAddr, config: Arc<ServerConfig>) -> io::Result<Self> {
        Ok(Self {
            tcp: TcpListener::bind(addr).await?,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        })
    }

    fn start_handshake(&mut self, tcp: TcpStream, peer: SocketAddr) {
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Some((tls, peer)),
                Ok(Err(err)) => {
                    // The expected end of a caller without the right certificate.
                    tracing::debug!(%peer, %err, "TLS handshake refused");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let pending = !self.handshakes.is_empty();
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((tcp, peer)) => self.start_handshake(tcp, peer),
                    Err(err) => {
                        // Out of file descriptors and the like: wait rather than spin,
                        // as axum's own TCP listener does.
                        tracing::warn!(%err, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if pending => {
                    if let Ok(Some(ready)) = done {
                        return ready;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over mutual TLS at `addr` (`127.0.0.1:0` in tests), as
/// [`crate::simulator::spawn_at`] serves plain HTTP: same handle, same shutdown.
pub async fn spawn_tls(
    addr: SocketAddr,
    router: Router,
    tls: &ServerTls,
) -> Result<(SocketAddr, ShutdownHandle), TlsError> {
    let listener = TlsListener::bind(addr, tls.server_config()?)
        .await
        .map_err(TlsError::Listen)?;
    serve_on(listener, router).map_err(TlsError::Listen)
}
