//! Sockets for probing: a TCP connect with a timeout, a stream wrapper that enforces one deadline
//! over many reads and writes and records what the server sent, and the mapping of I/O errors
//! onto the failure kinds a report names.
//!
//! A per-read timeout alone would let a server that trickles one byte a second hold a worker for
//! ever; [`Wire`] therefore checks an absolute deadline before each read and write and gives the
//! socket only the time that is left.

use super::{Failure, FailureKind, Phase};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How many of the server's first bytes a [`Wire`] keeps: enough for any ServerHello and for a
/// preview of a plaintext banner.
pub(crate) const RECORD_CAP: usize = 64 * 1024;

/// A TCP stream with a deadline that records the server's first bytes.
pub(crate) struct Wire {
    stream: TcpStream,
    deadline: Instant,
    /// The first [`RECORD_CAP`] bytes received.
    pub(crate) received: Vec<u8>,
    /// All bytes received, recorded or not.
    pub(crate) received_total: usize,
}

impl Wire {
    /// Wraps a connected stream; reads and writes fail with `TimedOut` once `timeout` has passed.
    pub(crate) fn new(stream: TcpStream, timeout: Duration) -> Self {
        Wire {
            stream,
            deadline: Instant::now() + timeout,
            received: Vec::new(),
            received_total: 0,
        }
    }

    /// Starts a new deadline `timeout` from now (for the next phase of a conversation).
    pub(crate) fn reset_deadline(&mut self, timeout: Duration) {
        self.deadline = Instant::now() + timeout;
    }

    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
        } else {
            Ok(left)
        }
    }

    /// Ends the connection; errors are of no interest by then.
    pub(crate) fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// A blocking socket whose timeout expired reports `WouldBlock` on Unix: call it what it is.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "timed out")
    } else {
        e
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_read_timeout(Some(left))?;
        let n = self.stream.read(buf).map_err(timed_out)?;
        let room = RECORD_CAP.saturating_sub(self.received.len());
        self.received.extend_from_slice(&buf[..n.min(room)]);
        self.received_total += n;
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Opens a TCP connection, mapping errors onto failure kinds.
pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    let stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| classify_io(&e, Phase::Connect))?;
    // Small requests and replies: send them at once.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The failure an I/O error stands for in `phase`.
pub(crate) fn classify_io(e: &io::Error, phase: Phase) -> Failure {
    use io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionRefused => FailureKind::Refused,
        K::TimedOut | K::WouldBlock => FailureKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FailureKind::Reset,
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
            FailureKind::Unreachable
        }
        K::UnexpectedEof => FailureKind::Handshake,
        _ => FailureKind::Io,
    };
    let message = match kind {
        FailureKind::Timeout => format!("no answer within the {} timeout", phase.as_str()),
        FailureKind::Refused => "connection refused".to_string(),
        FailureKind::Reset => format!("connection reset by the server ({e})"),
        _ => e.to_string(),
    };
    Failure {
        kind,
        phase,
        message,
    }
}

/// Up to `max` bytes as printable text, for reports: other bytes as `\xNN`.
pub(crate) fn preview(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn preview_escapes() {
        assert_eq!(
            preview(b"HTTP/1.0 400\r\n\x16\x03", 64),
            "HTTP/1.0 400\\r\\n\\x16\\x03"
        );
        assert_eq!(preview(b"abcdef", 3), "abc…");
    }

    #[test]
    fn error_kinds() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_io(&e, Phase::Connect).kind, FailureKind::Refused);
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        let f = classify_io(&e, Phase::Handshake);
        assert_eq!(f.kind, FailureKind::Timeout);
        assert!(f.message.contains("handshake"), "{}", f.message);
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_io(&e, Phase::Handshake).kind, FailureKind::Reset);
    }

    #[test]
    fn deadline_covers_all_reads_and_records_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"hello\n").unwrap();
            // Then say nothing until the client gives up.
            let mut sink = [0u8; 16];
            let _ = s.read(&mut sink);
        });
        let stream = connect(addr, Duration::from_secs(2)).unwrap();
        let mut wire = Wire::new(stream, Duration::from_millis(300));
        let mut buf = [0u8; 64];
        let n = wire.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello\n");
        let started = Instant::now();
        let err = wire.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(wire.received, b"hello\n");
        assert_eq!(wire.received_total, 6);
        wire.shutdown();
        server.join().unwrap();
    }
}
