//! The SSRF guard of outbound notifications: which URLs and addresses the notifier may
//! connect to.
//!
//! The API already refused notify URLs whose host is a restricted IP literal or an
//! obviously local name, but a public-looking name can resolve to `10.0.0.1` (or be
//! re-pointed there later: DNS rebinding), and a receiver can redirect anywhere. So at
//! send time the guard checks every hop's URL (scheme, literal, name), and the HTTP
//! client resolves names only through [`GuardedResolver`], which refuses a name if
//! *any* of its addresses is restricted and hands the connector only checked
//! addresses: there is no second lookup that could answer differently.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use rabt_core::target::{Restricted, is_local_name, restricted};
use url::{Host, Url};

/// Why the guard refused a target. Names the host and the address, never the path or
/// query (which may hold the cooperative's token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused target: {reason}")]
pub struct Refused {
    reason: String,
}

impl Refused {
    fn new(reason: String) -> Refused {
        Refused { reason }
    }

    /// Why, in a sentence.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Looks host names up. The system resolver in production; tests give names the
/// addresses they need.
pub trait Resolver: Send + Sync + fmt::Debug {
    /// Every address of `host`.
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// What may be reached.
#[derive(Debug, Clone)]
pub struct TargetGuard {
    allow_private: bool,
    require_https: bool,
    exempt: BTreeSet<IpAddr>,
    resolver: Arc<dyn Resolver>,
}

impl TargetGuard {
    /// The guard Rabt runs with: with `allow_private_targets` false (production)
    /// restricted addresses and local names are refused and `https` is required; with
    /// it true (tests, `rabt demo`) anything goes.
    pub fn new(allow_private_targets: bool) -> TargetGuard {
        TargetGuard {
            allow_private: allow_private_targets,
            require_https: !allow_private_targets,
            exempt: BTreeSet::new(),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Resolves names with `resolver` instead of the system's.
    pub fn with_resolver(self, resolver: Arc<dyn Resolver>) -> TargetGuard {
        TargetGuard { resolver, ..self }
    }

    /// Allows these exact addresses despite the rules, and plain `http` (a receiver on
    /// a known internal host; the tests' receivers on loopback).
    pub fn exempting(self, addresses: impl IntoIterator<Item = IpAddr>) -> TargetGuard {
        let mut exempt = self.exempt;
        exempt.extend(addresses);
        TargetGuard {
            exempt,
            require_https: false,
            ..self
        }
    }

    /// Whether anything goes.
    pub fn allows_private_targets(&self) -> bool {
        self.allow_private
    }

    /// Checks one address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Restricted> {
        if self.allow_private || self.exempt.contains(&ip) {
            return Ok(());
        }
        restricted(ip).map_or(Ok(()), Err)
    }

    /// Checks a URL before anything is sent to it: `https` (unless allowed), a host,
    /// no restricted IP literal, no obviously local name. Names are checked again,
    /// address by address, when they are resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            other => {
                return Err(Refused::new(format!(
                    "the scheme `{other}` is not allowed (https only)"
                )));
            }
        }
        let host = url
            .host()
            .ok_or_else(|| Refused::new("the URL has no host".to_owned()))?;
        let literal = match host {
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
            Host::Domain(name) => {
                if !self.allow_private && is_local_name(name) {
                    return Err(Refused::new(format!("`{name}` is a local name")));
                }
                return Ok(());
            }
        };
        self.check_ip(literal)
            .map_err(|class| Refused::new(format!("{literal} is {class}")))
    }

    /// Resolves `host` and checks every address; any restricted one refuses the name.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addresses = self
            .resolver
            .lookup(host)
            .await
            .map_err(ResolveError::Lookup)?;
        if addresses.is_empty() {
            return Err(ResolveError::Lookup(io::Error::new(
                io::ErrorKind::NotFound,
                format!("`{host}` has no address"),
            )));
        }
        for ip in &addresses {
            self.check_ip(*ip).map_err(|class| {
                ResolveError::Refused(Refused::new(format!("`{host}` resolves to {ip}, {class}")))
            })?;
        }
        Ok(addresses)
    }
}

/// Why a name could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The lookup failed.
    #[error("cannot resolve: {0}")]
    Lookup(#[source] io::Error),
    /// The name resolves to a restricted address.
    #[error(transparent)]
    Refused(Refused),
}

/// The HTTP client's only resolver: [`TargetGuard::resolve`].
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver(pub(crate) Arc<TargetGuard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            // The refusal itself goes up the error chain, where the notifier finds it.
            let addresses = match guard.resolve(name.as_str()).await {
                Ok(addresses) => addresses,
                Err(ResolveError::Refused(refused)) => return Err(refused.into()),
                Err(ResolveError::Lookup(err)) => return Err(err.into()),
            };
            // Port 0: the connector puts in the URL's port.
            let addrs: reqwest::dns::Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A resolver answering from a table.
    #[derive(Debug)]
    struct Table(BTreeMap<&'static str, Vec<IpAddr>>);

    impl Resolver for Table {
        fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
            let found = self.0.get(host).cloned();
            Box::pin(async move {
                found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown"))
            })
        }
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn url_forms_of_restricted_addresses_are_refused() {
        let guard = TargetGuard::new(false);
        // The URL parser normalises decimal, octal, hex and short IPv4 forms, so they
        // are judged as the address they reach.
        for refused in [
            "https://127.0.0.1/hook",
            "https://127.1/hook",
            "https://2130706433/hook",
            "https://0x7f.0.0.1/hook",
            "https://0177.0.0.1/hook",
            "https://017700000001/hook",
            "https://0.0.0.0/hook",
            "https://0/hook",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://[::ffff:7f00:1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00::1]/hook",
            "https://100.64.0.1/hook",
            "https://10.1.2.3:8443/hook",
            "https://192.168.0.10/hook",
            "https://localhost/hook",
            "https://LOCALHOST./hook",
            "https://svc.internal/hook",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://printer.local/hook",
            "https://intranet/hook",
            "http://erp.example.sa/hook",
            "ftp://erp.example.sa/hook",
            "file:///etc/passwd",
        ] {
            assert!(guard.check_url(&url(refused)).is_err(), "{refused}");
        }
        for allowed in [
            "https://erp.example.sa/hook?token=x",
            "https://8.8.8.8/hook",
            "https://[2a00:1450::1]/",
        ] {
            assert!(guard.check_url(&url(allowed)).is_ok(), "{allowed}");
        }
        let reason = guard
            .check_url(&url("https://127.1/x?token=secret"))
            .unwrap_err();
        assert_eq!(reason.reason(), "127.0.0.1 is a loopback address");
        assert!(!reason.to_string().contains("secret"));
    }

    #[test]
    fn allowing_private_targets_allows_everything_and_exemptions_only_themselves() {
        let open = TargetGuard::new(true);
        for url_text in [
            "http://127.0.0.1:9/hook",
            "https://localhost/",
            "http://[::1]/",
        ] {
            assert!(open.check_url(&url(url_text)).is_ok(), "{url_text}");
        }
        let one = TargetGuard::new(false).exempting(["127.0.0.1".parse().unwrap()]);
        assert!(one.check_url(&url("http://127.0.0.1:9/hook")).is_ok());
        assert!(one.check_url(&url("http://127.0.0.2:9/hook")).is_err());
        assert!(one.check_url(&url("http://localhost:9/hook")).is_err());
    }

    #[tokio::test]
    async fn a_name_is_refused_if_any_of_its_addresses_is_restricted() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let table = Table(BTreeMap::from([
            (
                "public.example",
                vec![ip("8.8.8.8"), ip("2001:4860:4860::8888")],
            ),
            ("rebound.example", vec![ip("8.8.8.8"), ip("10.0.0.1")]),
            ("metadata.example", vec![ip("169.254.169.254")]),
            ("mapped.example", vec![ip("::ffff:192.168.1.1")]),
            ("empty.example", vec![]),
        ]));
        let guard = TargetGuard::new(false).with_resolver(Arc::new(table));
        assert_eq!(guard.resolve("public.example").await.unwrap().len(), 2);
        for (host, why) in [
            (
                "rebound.example",
                "`rebound.example` resolves to 10.0.0.1, a private address",
            ),
            (
                "metadata.example",
                "`metadata.example` resolves to 169.254.169.254, a cloud metadata address",
            ),
            (
                "mapped.example",
                "`mapped.example` resolves to ::ffff:192.168.1.1, a private address",
            ),
        ] {
            match guard.resolve(host).await {
                Err(ResolveError::Refused(refused)) => assert_eq!(refused.reason(), why),
                other => panic!("{host}: {other:?}"),
            }
        }
        assert!(matches!(
            guard.resolve("empty.example").await,
            Err(ResolveError::Lookup(_))
        ));
        assert!(matches!(
            guard.resolve("unknown.example").await,
            Err(ResolveError::Lookup(_))
        ));
    }
}
