//! Which addresses outbound requests may reach: the SSRF rules.
//!
//! A tenant chooses the URLs the server calls (runtimes, the notification URL), so without
//! rules a tenant could make the server call what only it can reach: the cloud metadata
//! service at 169.254.169.254, the database, an admin port on localhost, the office network.
//! Every address a target host resolves to is checked, at save time and again at connect
//! time (the resolver of the outbound client, so a DNS answer that changed in between is
//! caught too). One refused address refuses the host. `runtimes.allowed_private_hosts` lists
//! exceptions: host names (matched as written), addresses, or networks in CIDR notation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused: the name of its class, as messages and tests spell it.
pub fn refused_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "CGNAT",
        (224..=239, _, _) => "multicast",
        // Reserved for future use, and the broadcast address.
        (240..=255, _, _) => "reserved",
        // IETF protocol assignments, benchmarking and documentation networks.
        (192, 0, 0) | (198, 18..=19, _) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => {
            "reserved"
        }
        _ => return None,
    })
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    // IPv4 carried inside IPv6 is judged as the IPv4 address it reaches: mapped
    // (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16) and the deprecated
    // IPv4-compatible form (::a.b.c.d).
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_class(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return v4_class(embedded_v4(segments[1], segments[2]));
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if segments[..6] == [0; 6] {
        return v4_class(embedded_v4(segments[6], segments[7]));
    }
    // The local-use NAT64 prefix (64:ff9b:1::/48) translates to addresses of the local
    // network's choosing, and Teredo (2001::/32) tunnels to an obfuscated IPv4 address:
    // neither can be judged, so neither is reached.
    if segments[..3] == [0x64, 0xff9b, 1] || segments[..2] == [0x2001, 0] {
        return Some("reserved");
    }
    Some(match segments[0] {
        s if s & 0xffc0 == 0xfe80 => "link-local",
        // Unique local (fc00::/7) and the deprecated site-local (fec0::/10).
        s if s & 0xfe00 == 0xfc00 || s & 0xffc0 == 0xfec0 => "private",
        s if s & 0xff00 == 0xff00 => "multicast",
        // Documentation (2001:db8::/32) and discard-only (100::/64).
        0x2001 if segments[1] == 0x0db8 => "reserved",
        0x0100 if segments[1..4] == [0, 0, 0] => "reserved",
        _ => return None,
    })
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// The exceptions of `runtimes.allowed_private_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AddressRules {
    exceptions: Vec<Exception>,
}

/// One entry: a host name or an address (`host[:port]`, `address[:port]`, `[v6][:port]`),
/// or a network (`address/prefix`). An entry with a port allows only URLs that spell that
/// very host, on that port: an exception for a local model server must not open every other
/// port of the same machine.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exception {
    Host { name: String, port: Option<u16> },
    Address { address: IpAddr, port: Option<u16> },
    Network { address: IpAddr, prefix: u8 },
}

/// A host the rules refuse, with the reason. Its text is shown to the tenant, so for a host
/// name it names the rule, not the address the name resolved to (that would map a private
/// network's DNS); `address` is there for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} {how} a {class} address; outbound requests to {class} addresses are refused (an operator may allow the host with runtimes.allowed_private_hosts)")]
pub struct Refused {
    pub host: String,
    how: &'static str,
    pub address: IpAddr,
    pub class: &'static str,
}

fn literal(host: &str) -> Option<IpAddr> {
    host.trim_matches(['[', ']']).parse().ok()
}

fn same_name(allowed: &str, host: &str) -> bool {
    allowed.eq_ignore_ascii_case(host.trim_end_matches('.'))
}

impl AddressRules {
    /// Parses the setting's entries.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let exceptions = entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(parse_exception)
            .collect::<Result<_, _>>()?;
        Ok(Self { exceptions })
    }

    /// Whether a connection to `host` (a name or an address literal) may go to `address`.
    /// The port is checked by [`AddressRules::check_port`], before the connection.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), Refused> {
        let Some(class) = refused_class(address) else {
            return Ok(());
        };
        let host_literal = literal(host);
        let allowed = self.exceptions.iter().any(|exception| match exception {
            Exception::Host { name, .. } => same_name(name, host),
            Exception::Address {
                address: allowed,
                port: None,
            } => *allowed == address,
            // With a port: only a URL that spells this address, whose port was checked.
            Exception::Address {
                address: allowed,
                port: Some(_),
            } => host_literal == Some(*allowed) && *allowed == address,
            Exception::Network {
                address: network,
                prefix,
            } => contains(*network, *prefix, address),
        });
        if allowed {
            return Ok(());
        }
        Err(Refused {
            host: host.to_owned(),
            how: if host_literal.is_some() {
                "is"
            } else {
                "resolves to"
            },
            address,
            class,
        })
    }

    /// The exceptions naming this very host (by name, or as the address literal it is).
    fn naming<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Exception> + 'a {
        let host_literal = literal(host);
        self.exceptions
            .iter()
            .filter(move |exception| match exception {
                Exception::Host { name, .. } => same_name(name, host),
                Exception::Address { address, .. } => host_literal == Some(*address),
                Exception::Network { .. } => false,
            })
    }

    /// Whether `host` is listed by name or as its address (such a host may also be reached
    /// over plain http).
    pub fn allows_host(&self, host: &str) -> bool {
        self.naming(host).next().is_some()
    }

    /// Refuses a port that the entries naming `host` do not allow (when all of them name
    /// a port).
    pub fn check_port(&self, host: &str, port: u16) -> Result<(), String> {
        let mut ports = Vec::new();
        for exception in self.naming(host) {
            match exception {
                Exception::Host { port: None, .. } | Exception::Address { port: None, .. } => {
                    return Ok(())
                }
                Exception::Host { port: Some(p), .. }
                | Exception::Address { port: Some(p), .. } => ports.push(*p),
                Exception::Network { .. } => {}
            }
        }
        if ports.is_empty() || ports.contains(&port) {
            return Ok(());
        }
        Err(format!(
            "runtimes.allowed_private_hosts allows {host} only on port {}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn parse_exception(entry: &str) -> Result<Exception, String> {
    if let Some((address, prefix)) = entry.split_once('/') {
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{entry:?} is not an address/prefix network"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{entry:?} has an invalid prefix length"))?;
        return Ok(Exception::Network { address, prefix });
    }
    if let Ok(address) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
        if !entry.starts_with('[') || entry.ends_with(']') {
            return Ok(Exception::Address {
                address,
                port: None,
            });
        }
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Ok(Exception::Address {
            address: socket.ip(),
            port: Some(socket.port()),
        });
    }
    let (name, port) = match entry.rsplit_once(':') {
        Some((name, port)) => {
            let port = port
                .parse()
                .map_err(|_| format!("{entry:?}: the port must be a number"))?;
            (name, Some(port))
        }
        None => (entry, None),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(format!(
            "{entry:?} is neither a host name, an address, host:port nor address/prefix"
        ));
    }
    Ok(Exception::Host {
        name: name.trim_end_matches('.').to_ascii_lowercase(),
        port,
    })
}

fn contains(network: IpAddr, prefix: u8, address: IpAddr) -> bool {
    match (network, address) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<&'static str> {
        refused_class(text.parse().unwrap())
    }

    #[test]
    fn every_refused_class_is_recognized_for_ipv4_and_ipv6() {
        for (address, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fd12:3456::1", "private"),
            ("fc00::1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("ff02::1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("192.0.2.10", "reserved"),
            ("2001:db8::1", "reserved"),
            // IPv4 inside IPv6 is judged by the IPv4 address.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:101::1", "private"),
            ("::10.0.0.1", "private"),
            ("64:ff9b:1::a00:1", "reserved"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),
        ] {
            assert_eq!(class(address), Some(expected), "{address}");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn exceptions_allow_names_addresses_and_networks_and_nothing_else() {
        let rules = AddressRules::parse(&[
            "localhost".into(),
            "127.0.0.1".into(),
            "10.20.0.0/16".into(),
            "[::1]".into(),
        ])
        .unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(rules
            .check("LocalHost.", "127.0.0.2".parse().unwrap())
            .is_ok());
        assert!(rules.check("runtime.example", loopback).is_ok());
        assert!(rules
            .check("10.20.5.1", "10.20.5.1".parse().unwrap())
            .is_ok());
        assert!(rules.check("[::1]", "::1".parse().unwrap()).is_ok());
        let refused = rules
            .check("internal.example", "10.21.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(refused.class, "private");
        // The tenant learns the rule, not what the name resolved to.
        let message = refused.to_string();
        assert!(message.starts_with(
            "internal.example resolves to a private address; outbound requests to private addresses are refused"
        ), "{message}");
        assert!(!message.contains("10.21"));
        let literal = AddressRules::default()
            .check("169.254.169.254", "169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert!(literal
            .to_string()
            .starts_with("169.254.169.254 is a link-local address"));
        assert!(AddressRules::default()
            .check("example.com", "93.184.215.14".parse().unwrap())
            .is_ok());
        for bad in ["10.0.0.0/33", "localhost:ollama", "a b", "http://x"] {
            assert!(AddressRules::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_exception_with_a_port_allows_that_host_on_that_port_only() {
        let rules = AddressRules::parse(&[
            "127.0.0.1:11434".into(),
            "ollama.internal:11434".into(),
            "[::1]:8000".into(),
        ])
        .unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(rules.check("127.0.0.1", loopback).is_ok());
        assert!(rules.check_port("127.0.0.1", 11434).is_ok());
        assert_eq!(
            rules.check_port("127.0.0.1", 5432).unwrap_err(),
            "runtimes.allowed_private_hosts allows 127.0.0.1 only on port 11434"
        );
        // Another name for the same address is not the entry.
        assert!(rules.check("localhost", loopback).is_err());
        assert!(rules
            .check("ollama.internal", "10.0.0.9".parse().unwrap())
            .is_ok());
        assert!(rules.check_port("ollama.internal", 11434).is_ok());
        assert!(rules.check_port("ollama.internal", 22).is_err());
        assert!(rules.check("[::1]", "::1".parse().unwrap()).is_ok());
        assert!(rules.check_port("[::1]", 8000).is_ok());
        assert!(rules.check_port("[::1]", 8001).is_err());
        // Hosts no entry names have no port rule (their addresses are checked instead).
        assert!(rules.check_port("example.com", 8443).is_ok());
        assert!(rules.allows_host("127.0.0.1") && !rules.allows_host("localhost"));
    }
}
