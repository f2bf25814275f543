//! Where a request comes from: the client's network address (the peer, or what a trusted
//! reverse proxy says in `X-Forwarded-For`) and the key that per-address limits count it
//! under (an IPv4 address, or an IPv6 /64).
//!
//! Routes that need no token (login, invite lookups and redeems, team creation) are limited
//! per address rather than per the device or invite id a request names: ids in a request
//! are whatever a stranger types, so limiting by them limits nothing (a flood picks a new
//! id per request), and it would let a stranger spend a real device's budget by naming it.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;
use crate::storage::Storage;

/// The header a reverse proxy names the client in (its last entry is the one the proxy
/// added).
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// What per-address limits count under: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network: whoever has one address of a /64 usually has all 2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The key of `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddressKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    AddressKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The address a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The key its limits count under.
    pub fn key(self) -> AddressKey {
        AddressKey::of(self.0)
    }
}

/// The client of a request from `peer` (`None`: the router was driven without a listener,
/// as in-process tests do; they all share the unspecified address) with `headers`: the peer
/// itself, unless the peer is one of `trusted` proxies, in which case the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy. A header that does not parse is
/// ignored (the peer is used): a proxy that is trusted always writes a well-formed one.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    let peer = peer.ip();
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED_FOR) {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

impl<S: Storage> FromRequestParts<AppState<S>> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        Ok(ClientAddress(client_ip(
            peer,
            &parts.headers,
            &state.limits().trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2:aaaa::1")),
            AddressKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            AddressKey::of(ip("2001:db8:1:2::1")),
            AddressKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            AddressKey::of(ip("::ffff:192.0.2.7")),
            AddressKey::of(ip("192.0.2.7"))
        );
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(AddressKey::of(ip("192.0.2.7")).to_string(), "192.0.2.7");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            FORWARDED_FOR,
            HeaderValue::from_static("203.0.113.9, 198.51.100.4"),
        );
        // Not trusted: the peer, whatever the header says.
        assert_eq!(client_ip(Some(peer), &headers, &[]), ip("127.0.0.1"));
        // Trusted: the last hop the proxy added (what came before it is the client's word).
        let trusted = [ip("127.0.0.1")];
        assert_eq!(
            client_ip(Some(peer), &headers, &trusted),
            ip("198.51.100.4")
        );
        // A chain of trusted proxies is skipped.
        let trusted = [ip("127.0.0.1"), ip("198.51.100.4")];
        assert_eq!(client_ip(Some(peer), &headers, &trusted), ip("203.0.113.9"));
        // No header, or one that does not parse: the peer.
        assert_eq!(
            client_ip(Some(peer), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        headers.insert(FORWARDED_FOR, HeaderValue::from_static("junk"));
        assert_eq!(client_ip(Some(peer), &headers, &trusted), ip("127.0.0.1"));
        // No listener (the router driven in-process): one shared address.
        assert_eq!(client_ip(None, &headers, &trusted), ip("0.0.0.0"));
    }
}
