//! Live capture for `poolscope watch`: frames from one or more network interfaces (Linux
//! AF_PACKET sockets through `pnet_datalink`), stamped as they arrive and handed to the
//! pipeline as a pcap stream, so that a live run goes through exactly the code a capture file
//! does.
//!
//! One thread per interface reads its socket and batches frames (at most [`BATCH_BYTES`], at
//! most [`BATCH_WAIT`] old) into a bounded queue. A full queue drops the batch and counts it
//! (the pipeline is behind); the kernel's own drops (its socket buffer full) are read from the
//! socket (`PACKET_STATISTICS`). The threads stop when the stop flag is set (SIGINT, SIGTERM)
//! or their interface fails; the stream then ends, and the pipeline ends every open flow.

use crate::error::{Error, Result};
use pnet_datalink::{Channel, Config, NetworkInterface};
use std::io::Read;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A batch is sent once it holds this many bytes of frames…
pub const BATCH_BYTES: usize = 256 * 1024;
/// …or once its first frame is this old (alerts must not wait for traffic to fill a batch).
pub const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Batches queued between the capture threads and the pipeline.
const QUEUE_BATCHES: usize = 256;
/// The largest frame read whole (a loopback or jumbo-frame interface included).
const READ_BUFFER: usize = 65_600;

/// What to capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface names.
    pub interfaces: Vec<String>,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Keep only frames to or from one of these TCP/UDP ports (empty: every port).
    pub ports: Vec<u16>,
    /// Keep only frames to or from one of these networks (empty: every address).
    pub nets: Vec<Net>,
}

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Net {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0 to {max}"))?,
        };
        Ok(Net { addr, prefix })
    }
}

impl Net {
    /// True when `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let keep = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128 << (width - bits)) & (!0u128 >> (128 - width))
            }
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = keep(self.prefix as u32, 32);
                (u32::from(n) as u128 & m) == (u32::from(a) as u128 & m)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = keep(self.prefix as u32, 128);
                (u128::from(n) & m) == (u128::from(a) & m)
            }
            _ => false,
        }
    }
}

/// What one interface's capture did.
#[derive(Debug, Clone, Default)]
pub struct InterfaceReport {
    /// Interface name.
    pub name: String,
    /// Frames read from the socket.
    pub frames: u64,
    /// Of those, left out by `--port`/`--net`.
    pub filtered: u64,
    /// Frames the kernel dropped because the socket buffer was full; None when the socket
    /// would not say.
    pub kernel_drops: Option<u64>,
    /// Frames dropped because the pipeline was behind (a full queue).
    pub queue_drops: u64,
    /// Why the capture stopped before it was asked to (the interface went down…).
    pub failed: Option<String>,
}

/// Running captures, one thread per interface.
pub struct LiveCapture {
    rx: Option<Receiver<Vec<u8>>>,
    threads: Vec<JoinHandle<InterfaceReport>>,
    snaplen: u32,
}

impl LiveCapture {
    /// Opens every interface (all or nothing: an error names the first that fails and why)
    /// and starts capturing. Setting `stop` ends the captures.
    pub fn open(opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<Self> {
        if opts.interfaces.is_empty() {
            return Err(Error::Usage("name at least one interface (-i)".into()));
        }
        let all = pnet_datalink::interfaces();
        let mut channels = Vec::new();
        for name in &opts.interfaces {
            let Some(iface) = all.iter().find(|i| &i.name == name) else {
                let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
                return Err(Error::Capture {
                    interface: name.clone(),
                    reason: format!("no such interface (there are: {})", names.join(", ")),
                });
            };
            if !iface.is_up() {
                return Err(Error::Capture {
                    interface: name.clone(),
                    reason: "the interface is down (ip link set dev IFACE up)".into(),
                });
            }
            channels.push(open_socket(iface)?);
        }
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let threads = channels
            .into_iter()
            .map(|(iface, socket, rx_chan)| {
                let tx = tx.clone();
                let stop = stop.clone();
                let opts = opts.clone();
                std::thread::spawn(move || capture_loop(iface, socket, rx_chan, tx, stop, &opts))
            })
            .collect();
        Ok(LiveCapture {
            rx: Some(rx),
            threads,
            snaplen: opts.snaplen,
        })
    }

    /// The frames as a pcap stream (Ethernet, microsecond stamps); it ends when every
    /// capture thread has stopped. Can be taken once.
    pub fn stream(&mut self) -> LiveStream {
        LiveStream {
            rx: self.rx.take(),
            header: pcap_header(self.snaplen).to_vec(),
            buf: Vec::new(),
            pos: 0,
            first_fill: true,
        }
    }

    /// Waits for the capture threads (set the stop flag first) and says what each did.
    pub fn finish(self) -> Vec<InterfaceReport> {
        self.threads
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| InterfaceReport {
                    failed: Some("the capture thread panicked".into()),
                    ..InterfaceReport::default()
                })
            })
            .collect()
    }
}

/// The pcap stream of a [`LiveCapture`].
pub struct LiveStream {
    rx: Option<Receiver<Vec<u8>>>,
    header: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    /// Until the first time it has nothing queued, the stream says so (`WouldBlock`) instead
    /// of waiting: a capture reader fills its first buffer, and would otherwise wait for a
    /// whole buffer of traffic before reading the first packet.
    first_fill: bool,
}

impl Read for LiveStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if !self.header.is_empty() {
            let n = self.header.len().min(out.len());
            out[..n].copy_from_slice(&self.header[..n]);
            self.header.drain(..n);
            return Ok(n);
        }
        while self.pos >= self.buf.len() {
            let Some(rx) = &self.rx else { return Ok(0) };
            let next = if self.first_fill {
                match rx.try_recv() {
                    Ok(b) => Some(b),
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        self.first_fill = false;
                        return Err(std::io::ErrorKind::WouldBlock.into());
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
                }
            } else {
                rx.recv().ok()
            };
            match next {
                Some(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                None => {
                    self.rx = None;
                    return Ok(0);
                }
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A legacy pcap file header: little-endian, microseconds, Ethernet.
fn pcap_header(snaplen: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&snaplen.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h
}

/// Appends one pcap record: the frame cut to `snaplen`, stamped `now`.
fn push_record(buf: &mut Vec<u8>, now: Duration, frame: &[u8], snaplen: u32) {
    let caplen = frame.len().min(snaplen as usize);
    buf.extend_from_slice(&(now.as_secs() as u32).to_le_bytes());
    buf.extend_from_slice(&now.subsec_micros().to_le_bytes());
    buf.extend_from_slice(&(caplen as u32).to_le_bytes());
    buf.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    buf.extend_from_slice(&frame[..caplen]);
}

/// The packet socket of an interface, its descriptor kept to read the kernel's drop counter.
struct Socket {
    fd: i32,
}

type Opened = (
    NetworkInterface,
    Socket,
    Box<dyn pnet_datalink::DataLinkReceiver>,
);

#[allow(unsafe_code)]
fn open_socket(iface: &NetworkInterface) -> Result<Opened> {
    let fail = |e: std::io::Error| Error::Capture {
        interface: iface.name.clone(),
        reason: match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "cannot open a packet socket ({e}): capture needs CAP_NET_RAW (run as root, or \
                 setcap cap_net_raw+ep on the binary)"
            ),
            _ => format!("cannot capture: {e}"),
        },
    };
    // The socket is made here so that its descriptor can be asked for PACKET_STATISTICS;
    // pnet binds it to the interface and owns it from then on.
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            (libc::ETH_P_ALL as u16).to_be() as i32,
        )
    };
    if fd < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    let config = Config {
        read_buffer_size: READ_BUFFER,
        read_timeout: Some(BATCH_WAIT),
        promiscuous: true,
        socket_fd: Some(fd),
        ..Config::default()
    };
    match pnet_datalink::channel(iface, config) {
        Ok(Channel::Ethernet(_tx, rx)) => Ok((iface.clone(), Socket { fd }, rx)),
        Ok(_) => Err(fail(std::io::Error::other("not an Ethernet channel"))),
        Err(e) => Err(fail(e)),
    }
}

impl Socket {
    /// Drops since the last call (the kernel resets the counters when read).
    #[allow(unsafe_code)]
    fn drops(&self) -> Option<u64> {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt(2) on a descriptor the channel keeps open for the thread's life,
        // into a struct of the size given.
        let r = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(stats.tp_drops as u64)
    }
}

/// True when the options keep this Ethernet frame.
fn keep(frame: &[u8], opts: &LiveOptions) -> bool {
    if opts.ports.is_empty() && opts.nets.is_empty() {
        return true;
    }
    let Ok(p) = etherparse::SlicedPacket::from_ethernet(frame) else {
        return false;
    };
    if !opts.nets.is_empty() {
        let (src, dst): (IpAddr, IpAddr) = match &p.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            Some(etherparse::NetSlice::Ipv6(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            _ => return false,
        };
        if !opts.nets.iter().any(|n| n.contains(src) || n.contains(dst)) {
            return false;
        }
    }
    if !opts.ports.is_empty() {
        let (sp, dp) = match &p.transport {
            Some(etherparse::TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
            Some(etherparse::TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
            _ => return false,
        };
        if !opts.ports.iter().any(|&q| q == sp || q == dp) {
            return false;
        }
    }
    true
}

fn capture_loop(
    iface: NetworkInterface,
    socket: Socket,
    mut rx: Box<dyn pnet_datalink::DataLinkReceiver>,
    tx: SyncSender<Vec<u8>>,
    stop: Arc<AtomicBool>,
    opts: &LiveOptions,
) -> InterfaceReport {
    let mut report = InterfaceReport {
        name: iface.name.clone(),
        ..InterfaceReport::default()
    };
    let mut kernel_drops: Option<u64> = None;
    let mut count_drops = |socket: &Socket| {
        if let Some(d) = socket.drops() {
            *kernel_drops.get_or_insert(0) += d;
        }
    };
    // Counters of an earlier socket on the interface are not ours.
    let _ = socket.drops();
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH_BYTES + READ_BUFFER);
    let mut frames_in_buf = 0u64;
    let mut oldest: Option<Instant> = None;
    let send = |buf: &mut Vec<u8>, frames: &mut u64, report: &mut InterfaceReport| {
        if buf.is_empty() {
            return true;
        }
        let batch = std::mem::replace(buf, Vec::with_capacity(BATCH_BYTES + READ_BUFFER));
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => report.queue_drops += *frames,
            Err(TrySendError::Disconnected(_)) => return false,
        }
        *frames = 0;
        true
    };
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match rx.next() {
            Ok(frame) => {
                report.frames += 1;
                if keep(frame, opts) {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default();
                    push_record(&mut buf, now, frame, opts.snaplen);
                    frames_in_buf += 1;
                    oldest.get_or_insert_with(Instant::now);
                } else {
                    report.filtered += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let down = !pnet_datalink::interfaces()
                    .iter()
                    .any(|i| i.name == iface.name && i.is_up());
                report.failed = Some(if down {
                    format!("the interface went down ({e}); what was captured is kept")
                } else {
                    format!("capture failed ({e}); what was captured is kept")
                });
                break;
            }
        }
        if buf.len() >= BATCH_BYTES || oldest.is_some_and(|t| t.elapsed() >= BATCH_WAIT) {
            oldest = None;
            if !send(&mut buf, &mut frames_in_buf, &mut report) {
                break;
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            count_drops(&socket);
        }
    }
    send(&mut buf, &mut frames_in_buf, &mut report);
    count_drops(&socket);
    report.kernel_drops = kernel_drops;
    // The receiver (and with it the socket) closes here.
    drop(rx);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_contain() {
        let n: Net = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let one: Net = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let all: Net = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let v6: Net = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Net>().is_err());
        assert!("ten/8".parse::<Net>().is_err());
    }

    #[test]
    fn the_stream_is_a_pcap_the_capture_reader_reads() {
        let (tx, rx) = sync_channel(4);
        let frame: Vec<u8> = (0..60u8).collect();
        let mut batch = Vec::new();
        push_record(
            &mut batch,
            Duration::new(1_700_000_000, 250_000_000),
            &frame,
            40,
        );
        push_record(&mut batch, Duration::new(1_700_000_001, 0), &frame, 100);
        tx.send(batch).unwrap();
        drop(tx);
        let stream = LiveStream {
            rx: Some(rx),
            header: pcap_header(40).to_vec(),
            buf: Vec::new(),
            pos: 0,
            first_fill: true,
        };
        let mut seen = Vec::new();
        let mut skipped = 0;
        let end = crate::capture::read_capture("live", stream, &mut skipped, &mut |p| {
            seen.push((p.ts, p.data.len(), p.wire_len));
        })
        .unwrap();
        assert_eq!(end, crate::capture::CaptureEnd::Complete);
        assert_eq!(
            seen,
            vec![
                (1_700_000_000_250_000_000, 40, 60),
                (1_700_000_001_000_000_000, 60, 60)
            ]
        );
    }
}
