//! Which way a packet or a byte of stream travels inside a flow.

use serde::Serialize;

/// Direction of travel relative to the flow's client (the side that opened it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// From the client (the SYN sender, or the first talker) to the server.
    ClientToServer,
    /// From the server back to the client.
    ServerToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Self {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// Index for per-direction arrays: 0 = client to server, 1 = server to client.
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}
