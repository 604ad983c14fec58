//! Where a cooperative's notification may never be sent: the server-side request
//! forgery rules (OWASP API7). A cooperative chooses its `notify_url`, and Rabt POSTs to
//! it from inside the ministry's network, so a URL naming `127.0.0.1`, a private
//! network or a cloud metadata address would make Rabt a proxy into places the
//! cooperative cannot reach itself.
//!
//! Pure classification: the API applies it to the host of a `notify_url` when it
//! accepts the request (an IP literal or an obviously local name), the notifier to every
//! address a host resolves to and to every redirect, just before it connects. Addresses
//! embedded in IPv6 forms that reach IPv4 (IPv4-mapped `::ffff:a.b.c.d`, NAT64, 6to4)
//! are judged by the IPv4 address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A kind of address a notification may not reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restricted {
    /// `0.0.0.0`, `::`: "this host" to most stacks.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0`: "this network".
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// RFC 6598 shared address space (carrier-grade NAT, also cloud-internal services):
    /// `100.64/10`.
    SharedAddressSpace,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// The instance metadata service of the clouds (`169.254.169.254`,
    /// `fd00:ec2::254`): where credentials leak from.
    Metadata,
    /// IPv6 unique local (`fc00::/7`) and the deprecated site-local (`fec0::/10`).
    UniqueLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Not routable on the Internet: IETF protocol assignments, documentation and
    /// benchmarking ranges, `240/4`, IPv6 discard, Teredo and IPv4-compatible forms.
    Reserved,
}

impl Restricted {
    /// What the address is, for an error message ("a loopback address").
    pub const fn describe(self) -> &'static str {
        match self {
            Restricted::Unspecified => "an unspecified address",
            Restricted::ThisNetwork => "a 'this network' address",
            Restricted::Loopback => "a loopback address",
            Restricted::Private => "a private address",
            Restricted::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Restricted::LinkLocal => "a link-local address",
            Restricted::Metadata => "a cloud metadata address",
            Restricted::UniqueLocal => "a unique local address",
            Restricted::Multicast => "a multicast address",
            Restricted::Broadcast => "the broadcast address",
            Restricted::Reserved => "a reserved address",
        }
    }
}

impl fmt::Display for Restricted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why `ip` may not be a notification's target, or `None` for a public address.
pub fn restricted(ip: IpAddr) -> Option<Restricted> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<Restricted> {
    let [a, b, c, d] = ip.octets();
    let class = match (a, b, c, d) {
        (0, 0, 0, 0) => Restricted::Unspecified,
        (0, ..) => Restricted::ThisNetwork,
        (127, ..) => Restricted::Loopback,
        (10, ..) | (192, 168, ..) => Restricted::Private,
        (172, 16..=31, ..) => Restricted::Private,
        (100, 64..=127, ..) => Restricted::SharedAddressSpace,
        (169, 254, 169, 254) => Restricted::Metadata,
        (169, 254, ..) => Restricted::LinkLocal,
        (224..=239, ..) => Restricted::Multicast,
        (255, 255, 255, 255) => Restricted::Broadcast,
        // IETF protocol assignments, TEST-NET-1/2/3, the 6to4 relay anycast,
        // benchmarking, and the old class E.
        (192, 0, 0 | 2, _)
        | (192, 88, 99, _)
        | (198, 51, 100, _)
        | (203, 0, 113, _)
        | (198, 18..=19, ..)
        | (240..=255, ..) => Restricted::Reserved,
        _ => return None,
    };
    Some(class)
}

fn restricted_v6(ip: Ipv6Addr) -> Option<Restricted> {
    if ip.is_unspecified() {
        return Some(Restricted::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Restricted::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return restricted_v4(v4);
    }
    let s = ip.segments();
    let class = match s {
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => Restricted::Metadata,
        [first, ..] if first & 0xfe00 == 0xfc00 => Restricted::UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfec0 => Restricted::UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfe80 => Restricted::LinkLocal,
        [first, ..] if first & 0xff00 == 0xff00 => Restricted::Multicast,
        // IPv4-compatible (deprecated), discard-only, Teredo, documentation, local-use
        // NAT64: none is a public destination.
        [0, 0, 0, 0, 0, 0, _, _]
        | [0x0100, 0, 0, 0, ..]
        | [0x2001, 0, ..]
        | [0x2001, 0x0db8, ..]
        | [0x0064, 0xff9b, 0x0001, ..] => Restricted::Reserved,
        _ => return None,
    };
    Some(class)
}

/// The IPv4 address an IPv6 address reaches, for the forms that translate to IPv4:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// Whether a host name is local by its very form, before any lookup: `localhost` and
/// its subdomains, the special-use and private-use suffixes (`.local` for mDNS,
/// `.internal` as in `metadata.google.internal`, `.localdomain`, `.home.arpa`), and
/// single-label names, which resolvers complete with the local search domains.
/// Case and a trailing dot are ignored.
pub fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    const LOCAL_SUFFIXES: [&str; 5] = [
        ".localhost",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
    ];
    host.is_empty()
        || host == "localhost"
        || !host.contains('.')
        || LOCAL_SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<Restricted> {
        restricted(text.parse().unwrap())
    }

    #[test]
    fn every_restricted_range_is_refused_and_public_addresses_pass() {
        use Restricted::*;
        let table: &[(&str, Option<Restricted>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(ThisNetwork)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.100.100.200", Some(SharedAddressSpace)),
            ("169.254.169.254", Some(Metadata)),
            ("169.254.0.1", Some(LinkLocal)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.192", Some(Reserved)),
            ("192.0.2.10", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("203.0.113.5", Some(Reserved)),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::ffff:0:192.168.0.1", Some(Private)),
            ("64:ff9b::10.1.2.3", Some(Private)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("2002:c0a8:0101::1", Some(Private)),
            ("::127.0.0.1", Some(Reserved)),
            ("fd00::1", Some(UniqueLocal)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("fec0::1", Some(UniqueLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Reserved)),
            ("2001:0:4136:e378::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            // Public addresses, including neighbours of the ranges above.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.15.255.255", None),
            ("172.32.0.1", None),
            ("100.63.255.255", None),
            ("100.128.0.1", None),
            ("169.253.1.1", None),
            ("223.255.255.255", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:0808:0808::1", None),
            ("2a00:1450:4001::200e", None),
            ("2001:4860:4860::8888", None),
        ];
        for (text, expected) in table {
            assert_eq!(class(text), *expected, "{text}");
        }
    }

    #[test]
    fn local_names_are_known_by_their_form() {
        for local in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "printer.local",
            "metadata.google.internal",
            "box.localdomain",
            "nas.home.arpa",
            "intranet",
            "",
        ] {
            assert!(is_local_name(local), "{local}");
        }
        for public in [
            "erp.example.sa",
            "hooks.coop.org.sa.",
            "localhost.example.com",
        ] {
            assert!(!is_local_name(public), "{public}");
        }
    }

    #[test]
    fn descriptions_read_as_a_phrase() {
        assert_eq!(Restricted::Loopback.to_string(), "a loopback address");
        assert_eq!(Restricted::Metadata.describe(), "a cloud metadata address");
    }
}
