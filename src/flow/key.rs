//! Flow keys: the 5-tuple, directional, with `reverse()` and a canonical form for lookups.

use std::net::IpAddr;

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Lowercase name as written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One side of a flow: address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// TCP or UDP port.
    pub port: u16,
}

/// A directional 5-tuple: `src` sent the packet (or, for a flow, `src` is the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Sender (or client).
    pub src: Endpoint,
    /// Receiver (or server).
    pub dst: Endpoint,
}

impl FlowKey {
    /// The same tuple seen from the other side.
    pub fn reverse(&self) -> Self {
        FlowKey {
            protocol: self.protocol,
            src: self.dst,
            dst: self.src,
        }
    }

    /// The orientation both directions of a conversation share (lower endpoint first), used
    /// to find a flow whichever side sent the packet.
    pub fn canonical(&self) -> Self {
        if self.src <= self.dst {
            *self
        } else {
            self.reverse()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: s.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn canonical_is_the_same_from_both_sides() {
        let k = FlowKey {
            protocol: Protocol::Tcp,
            src: ep("10.0.0.2", 40000),
            dst: ep("10.0.0.1", 3333),
        };
        assert_eq!(k.canonical(), k.reverse().canonical());
        assert_eq!(k.reverse().reverse(), k);
        // 10.0.0.1:3333 sorts first, so the canonical form is the reply direction.
        assert_eq!(k.canonical(), k.reverse());
    }
}
