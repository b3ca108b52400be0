//! Who the client is: the socket peer, or, only when the peer is a trusted proxy, the address
//! that proxy reports (`CF-Connecting-IP`, else the rightmost untrusted `X-Forwarded-For` entry);
//! and the group an address is limited as (IPv4: the address; IPv6: its /64).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose client-address headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trust nobody: the client is always the socket peer.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Trust these networks.
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies { nets }
    }

    /// Trust loopback (`127.0.0.0/8`, `::1`) besides the networks already trusted (`--test-env`).
    pub fn with_loopback(mut self) -> TrustedProxies {
        for n in ["127.0.0.0/8", "::1/128"] {
            if let Ok(net) = n.parse::<IpNet>() {
                if !self.nets.contains(&net) {
                    self.nets.push(net);
                }
            }
        }
        self
    }

    /// The trusted networks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    ///
    /// From an untrusted peer: the peer, whatever the headers say. From a trusted one:
    /// `CF-Connecting-IP` when it holds one address; otherwise `X-Forwarded-For` read from the
    /// right, skipping trusted proxies, the first untrusted entry (an unparsable entry stops the
    /// walk: everything left of it was written by someone we cannot vouch for, so the peer is
    /// used); otherwise the peer.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        if let Some(ip) = headers
            .get("cf-connecting-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return canonical(ip);
        }
        let mut last_trusted = peer;
        for value in headers.get_all("x-forwarded-for").iter().rev() {
            let Ok(text) = value.to_str() else {
                return last_trusted;
            };
            for entry in text.rsplit(',').take(64) {
                match parse_forwarded_entry(entry) {
                    Some(ip) if self.contains(ip) => last_trusted = ip,
                    Some(ip) => return ip,
                    None => return last_trusted,
                }
            }
        }
        last_trusted
    }
}

/// An `X-Forwarded-For` entry: an address, optionally `[v6]` or `v4:port`.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = e.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| canonical(IpAddr::V6(a)));
    }
    let (host, port) = e.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are their IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The unit of per-client limits: an IPv4 address, or the /64 an IPv6 address is in (one
/// subscriber usually holds a whole /64, so per-address limits would be trivial to dodge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientGroup {
    /// One IPv4 address.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6([u8; 8]),
}

impl ClientGroup {
    /// The group of `ip`.
    pub fn of(ip: IpAddr) -> ClientGroup {
        match canonical(ip) {
            IpAddr::V4(a) => ClientGroup::V4(a.octets()),
            IpAddr::V6(a) => {
                let mut p = [0u8; 8];
                p.copy_from_slice(&a.octets()[..8]);
                ClientGroup::V6(p)
            }
        }
    }

    /// Parse the [`Display`](fmt::Display) form back (`a.b.c.d` or `x:x::/64`).
    pub fn parse(s: &str) -> Option<ClientGroup> {
        match s.strip_suffix("/64") {
            Some(v6) => v6
                .parse::<Ipv6Addr>()
                .ok()
                .map(|a| ClientGroup::of(IpAddr::V6(a))),
            None => s
                .parse::<Ipv4Addr>()
                .ok()
                .map(|a| ClientGroup::V4(a.octets())),
        }
    }

    /// Bytes for hashing into table keys.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            ClientGroup::V4(a) => a.to_vec(),
            ClientGroup::V6(p) => p.to_vec(),
        }
    }
}

impl fmt::Display for ClientGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientGroup::V4(a) => write!(f, "{}", Ipv4Addr::from(*a)),
            ClientGroup::V6(p) => {
                let mut o = [0u8; 16];
                o[..8].copy_from_slice(p);
                write!(f, "{}/64", Ipv6Addr::from(o))
            }
        }
    }
}

/// The client of one request: its address and its limit group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client address (logged).
    pub ip: IpAddr,
    /// What limits are keyed on.
    pub group: ClientGroup,
}

impl ClientAddr {
    /// The client at `ip`.
    pub fn new(ip: IpAddr) -> ClientAddr {
        let ip = canonical(ip);
        ClientAddr {
            ip,
            group: ClientGroup::of(ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append(*k, v);
            }
        }
        h
    }

    #[test]
    fn untrusted_peers_are_the_client() {
        let t = TrustedProxies::none();
        let h = headers(&[
            ("cf-connecting-ip", "198.51.100.1"),
            ("x-forwarded-for", "198.51.100.2"),
        ]);
        assert_eq!(t.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        let t = TrustedProxies::none().with_loopback();
        assert_eq!(t.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.1"));
        assert_eq!(t.client_ip(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn rightmost_untrusted_forwarded_entry() {
        let nets = vec!["10.0.0.0/8".parse().unwrap_or_else(|_| IpNet::default())];
        let t = TrustedProxies::new(nets);
        let peer = ip("10.0.0.1");
        // The client may prepend anything; the rightmost untrusted entry is what our proxy saw.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7:4711, 10.0.0.2"),
        ]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(t.client_ip(peer, &h), ip("2001:db8::1"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, junk, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("10.0.0.2"));
        // All trusted: the leftmost trusted hop.
        let h = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("10.0.0.3"));
        assert_eq!(t.client_ip(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn ipv6_groups_by_64() {
        let a = ClientGroup::of(ip("2001:db8:1:2::1"));
        let b = ClientGroup::of(ip("2001:db8:1:2:ffff::9"));
        let c = ClientGroup::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(ClientGroup::parse(&a.to_string()), Some(a));
        let v4 = ClientGroup::of(ip("192.0.2.1"));
        assert_eq!(ClientGroup::parse(&v4.to_string()), Some(v4));
        assert_eq!(ClientGroup::parse(""), None);
        assert_eq!(
            ClientGroup::of(ip("::ffff:192.0.2.1")),
            ClientGroup::of(ip("192.0.2.1"))
        );
    }
}
