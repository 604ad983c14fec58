//! A throwaway PKI for the sandbox, generated in memory: `rabt demo` and `rabt simulate`
//! need mutual TLS between an adapter (chambers today) and its simulator without any
//! file, and tests need certificates without committing a private key.
//!
//! Two CAs, as in real life: the agency's server CA, which the adapter trusts, and the
//! client CA, which the agency trusts for the gateway's client certificate. Keys are ECDSA P-256 made
//! with aws-lc-rs; they live as long as the process.

use rabt_adapter::http::{ClientIdentity, SecretBytes};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::{ServerTls, TlsError};

/// The names the simulator's certificate is valid for: it listens on loopback.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct CertifiedPem {
    /// The certificate, PEM.
    pub cert_pem: Vec<u8>,
    /// Its private key, PEM (PKCS#8); never printed.
    pub key_pem: SecretBytes,
}

/// One CA: its certificate (PEM) and what signs with it.
struct Authority {
    cert_pem: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

/// The sandbox's certificates: the simulator's server certificate and the adapter's
/// client certificate, each signed by its own throwaway CA.
#[derive(Clone, Debug)]
pub struct SandboxPki {
    /// The CA that signed the server certificate: the adapter trusts it.
    pub server_ca_pem: Vec<u8>,
    /// The simulator's certificate, for [`SERVER_NAMES`].
    pub server: CertifiedPem,
    /// The CA that signed the client certificate: the simulator trusts it.
    pub client_ca_pem: Vec<u8>,
    /// The adapter's client certificate.
    pub client: CertifiedPem,
}

impl SandboxPki {
    /// Generates both CAs and both certificates.
    pub fn generate() -> Result<Self, TlsError> {
        let server_ca = authority("Rabt sandbox FSC server CA")?;
        let client_ca = authority("Rabt sandbox gateway client CA")?;
        let names = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
        Ok(Self {
            server: leaf(
                &server_ca,
                "fsc.sandbox.rabt",
                names,
                ExtendedKeyUsagePurpose::ServerAuth,
            )?,
            server_ca_pem: server_ca.cert_pem,
            client: leaf(
                &client_ca,
                "rabt-gateway",
                Vec::new(),
                ExtendedKeyUsagePurpose::ClientAuth,
            )?,
            client_ca_pem: client_ca.cert_pem,
        })
    }

    /// What the simulator serves with: its certificate, and the client CA it requires.
    pub fn server_tls(&self) -> ServerTls {
        ServerTls {
            cert_chain_pem: self.server.cert_pem.clone(),
            key_pem: self.server.key_pem.clone(),
            client_ca_pem: self.client_ca_pem.clone(),
        }
    }

    /// What the adapter presents: the client certificate and its key.
    pub fn client_identity(&self) -> ClientIdentity {
        ClientIdentity {
            cert_pem: self.client.cert_pem.clone(),
            key_pem: self.client.key_pem.clone(),
        }
    }
}

fn authority(name: &str) -> Result<Authority, TlsError> {
    let key = KeyPair::generate().map_err(TlsError::Certificate)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Certificate)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).map_err(TlsError::Certificate)?;
    Ok(Authority {
        cert_pem: cert.pem().into_bytes(),
        issuer: Issuer::new(params, key),
    })
}

fn leaf(
    ca: &Authority,
    common_name: &str,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertifiedPem, TlsError> {
    let key = KeyPair::generate().map_err(TlsError::Certificate)?;
    let mut params = CertificateParams::new(names).map_err(TlsError::Certificate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca.issuer)
        .map_err(TlsError::Certificate)?;
    Ok(CertifiedPem {
        cert_pem: cert.pem().into_bytes(),
        key_pem: SecretBytes(key.serialize_pem().into_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pki_builds_a_server_config_and_hides_its_keys() {
        let pki = SandboxPki::generate().unwrap();
        assert!(pki.server_tls().server_config().is_ok());
        let debug = format!("{pki:?} {:?}", pki.server_tls());
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        // Each run makes new keys: nothing to leak between runs, nothing to commit.
        let other = SandboxPki::generate().unwrap();
        assert_ne!(pki.server_ca_pem, other.server_ca_pem);
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let pki = SandboxPki::generate().unwrap();
        let tls = ServerTls {
            client_ca_pem: b"no certificate here".to_vec(),
            ..pki.server_tls()
        };
        assert!(matches!(
            tls.server_config(),
            Err(TlsError::NoCertificate("client CA"))
        ));
        let tls = ServerTls {
            key_pem: SecretBytes(Vec::new()),
            ..pki.server_tls()
        };
        assert!(matches!(
            tls.server_config(),
            Err(TlsError::Pem {
                what: "server key",
                ..
            })
        ));
    }
}
