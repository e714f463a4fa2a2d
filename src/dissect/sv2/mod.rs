//! Stratum V2 detector: recognises an SV2 connection in a TCP flow from the sizes of its Noise
//! handshake and first encrypted frames, without any key.
//!
//! SV2 (<https://stratumprotocol.org>) encrypts every connection from its first byte with a
//! Noise NX handshake run directly over TCP: no TLS, no SNI, no JSON, nothing a payload
//! signature could match. What stays visible is the shape of the opening, fixed by the
//! protocol: the initiator (miner or proxy) sends its ephemeral key as one 64-byte
//! ElligatorSwift encoding and waits; the responder (pool) answers with exactly 234 bytes (its
//! ephemeral key, its static key encrypted, and its encrypted signature-noise-message, the
//! pool's certificate); then every SV2 frame travels as a 22-byte encrypted header and its
//! payload encrypted with a 16-byte MAC, and the first frame each way is fixed by the protocol
//! too: the client's `SetupConnection`, the server's `SetupConnection.Success` or `.Error`.
//! The sizes below are those of the reference implementation (`stratum-mining/stratum`,
//! crates `noise_sv2` 2.0.0, `codec_sv2` 7.0.0, `framing_sv2` 8.0.0, `common_messages_sv2`
//! 9.0.0), whose constant each one repeats.
//!
//! [`Sv2Detector`] reads the reassembled streams of both directions and takes a flow for SV2
//! only when, in this order:
//!
//! 1. the client speaks first, and its first turn (all it sends before the server's first
//!    byte) is exactly [`INITIATOR_MESSAGE_SIZE`] bytes that look random (at least
//!    [`INITIATOR_MIN_DISTINCT`] distinct byte values: an ElligatorSwift encoding is
//!    indistinguishable from uniform bytes, a structured or text message of that size is not);
//! 2. the server's first turn (all it sends before the client's next byte) is exactly
//!    [`RESPONDER_MESSAGE_SIZE`] random-looking bytes (at least [`RESPONDER_MIN_DISTINCT`]
//!    distinct values);
//! 3. the client's next turn fits one encrypted `SetupConnection` frame
//!    ([`SETUP_CONNECTION_FRAME`]) and does not open with text;
//! 4. the server's next turn fits one encrypted `SetupConnection.Success` or `.Error` frame
//!    ([`SETUP_ANSWER_FRAME`]) and does not open with text, and the client then sends again
//!    (the channel opening), which closes that turn.
//!
//! Anything else (a first message of another size, a server that speaks first or answers with
//! another size, plaintext after the handshake, a gap in the stream before the decision) ends
//! the look as soon as it shows: [`Sv2Detector::wants_more`] turns false. A confirmed session
//! is followed to the flow's end and its messages counted each way. Frame boundaries after the
//! set-up cannot be seen (lengths travel encrypted), so a message here is what the flow
//! features call one: a run of bytes one way, ended by bytes the other way or by
//! [`MESSAGE_GAP_S`] of silence.
//!
//! The job-declaration and template-distribution protocols open the same way as mining (the
//! protocol byte of `SetupConnection` is encrypted), so they are reported alike: all three are
//! mining infrastructure. A session whose start the capture missed, or an implementation whose
//! handshake has other sizes (drafts of the protocol before it took ElligatorSwift keys), is
//! not recognised.

#[cfg(test)]
mod tests;

use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;
use std::ops::RangeInclusive;

/// Size of an ElligatorSwift-encoded secp256k1 public key (`noise_sv2::ELLSWIFT_ENCODING_SIZE`).
pub const ELLSWIFT_ENCODING_SIZE: u64 = 64;

/// Size of the ChaCha20-Poly1305 authentication tag (`noise_sv2::AEAD_MAC_LEN`).
pub const AEAD_MAC_LEN: u64 = 16;

/// Size of the signature-noise-message, the responder's certificate: version, validity
/// times and a Schnorr signature (`noise_sv2::SIGNATURE_NOISE_MESSAGE_SIZE`).
pub const SIGNATURE_NOISE_MESSAGE_SIZE: u64 = 74;

/// The initiator's handshake message, its ephemeral key in the clear: what the responder
/// waits for (`codec_sv2` 7.0.0 `state.rs`: `Responder::EXPECTED_MESSAGE_SIZE`, which is
/// `ELLSWIFT_ENCODING_SIZE`; `const_sv2::RESPONDER_EXPECTED_HANDSHAKE_MESSAGE_SIZE` in the
/// older crate layout).
pub const INITIATOR_MESSAGE_SIZE: u64 = ELLSWIFT_ENCODING_SIZE;

/// The responder's handshake message: ephemeral key, static key with its MAC, certificate with
/// its MAC, 234 bytes (`noise_sv2::INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE`, named for the
/// initiator, which waits for it; the same in `const_sv2` 4.0.1 and every `noise_sv2` release
/// since 1.0.0, the first with ElligatorSwift keys).
pub const RESPONDER_MESSAGE_SIZE: u64 = ELLSWIFT_ENCODING_SIZE
    + (ELLSWIFT_ENCODING_SIZE + AEAD_MAC_LEN)
    + (SIGNATURE_NOISE_MESSAGE_SIZE + AEAD_MAC_LEN);

/// Plaintext SV2 frame header: extension type (u16), message type (u8), payload length (u24)
/// (`framing_sv2::SV2_FRAME_HEADER_SIZE`).
pub const SV2_FRAME_HEADER_SIZE: u64 = 6;

/// The frame header once encrypted, with its own MAC
/// (`codec_sv2::ENCRYPTED_SV2_FRAME_HEADER_SIZE`).
pub const ENCRYPTED_SV2_FRAME_HEADER_SIZE: u64 = SV2_FRAME_HEADER_SIZE + AEAD_MAC_LEN;

/// Largest encrypted piece of a payload, MAC included (`framing_sv2::SV2_FRAME_CHUNK_SIZE`);
/// a payload is encrypted in pieces of at most `SV2_FRAME_CHUNK_SIZE - AEAD_MAC_LEN` bytes
/// (`codec_sv2::SV2_FRAME_PLAINTEXT_CHUNK_SIZE`).
pub const SV2_FRAME_CHUNK_SIZE: u64 = 65_535;

/// Bytes on the wire of an encrypted frame whose plaintext payload is `payload` bytes: the
/// encrypted header, the payload, and one MAC per piece (none for an empty payload), as
/// `codec_sv2`'s encoder writes it.
pub const fn encrypted_frame_size(payload: u64) -> u64 {
    let piece = SV2_FRAME_CHUNK_SIZE - AEAD_MAC_LEN;
    ENCRYPTED_SV2_FRAME_HEADER_SIZE + payload + payload.div_ceil(piece) * AEAD_MAC_LEN
}

/// `SetupConnection` payload (`common_messages_sv2`): protocol (u8), min and max version (u16
/// each), flags (u32), endpoint host (STR0_255), endpoint port (u16), vendor, hardware
/// version, firmware and device id (STR0_255 each, a length byte and up to 255 bytes).
const SETUP_CONNECTION_MIN: u64 = 1 + 2 + 2 + 4 + 1 + 2 + 1 + 1 + 1 + 1;
const SETUP_CONNECTION_MAX: u64 = SETUP_CONNECTION_MIN + 5 * 255;

/// The client's first frame after the handshake: one encrypted `SetupConnection`, 54 to 1,329
/// bytes.
pub const SETUP_CONNECTION_FRAME: RangeInclusive<u64> =
    encrypted_frame_size(SETUP_CONNECTION_MIN)..=encrypted_frame_size(SETUP_CONNECTION_MAX);

/// The server's answer: one encrypted `SetupConnection.Success` (used version u16, flags u32:
/// 44 bytes) or `SetupConnection.Error` (flags u32, error code STR0_255: 43 to 298 bytes).
pub const SETUP_ANSWER_FRAME: RangeInclusive<u64> =
    encrypted_frame_size(4 + 1)..=encrypted_frame_size(4 + 1 + 255);

/// Distinct byte values the initiator's 64 bytes must show: uniform bytes show 56.7 on
/// average (standard deviation 2.4), so 40 misses one real handshake in far more than a
/// billion, while text, counters and zero-padded structures fall short.
pub const INITIATOR_MIN_DISTINCT: u32 = 40;

/// Distinct byte values the responder's 234 bytes must show (uniform: 153.5 on average,
/// standard deviation 4.9).
pub const RESPONDER_MIN_DISTINCT: u32 = 120;

/// Silence that ends a message one way (the same 0.1 s as the flow features' messages).
pub const MESSAGE_GAP_S: f64 = 0.1;

/// The method name a confirmed session reports, so that verdicts read
/// `stratum:sv2:noise-handshake`.
pub const IDENTIFYING_CALL: &str = "noise-handshake";

/// Where the detector is in the connection's opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Reading the client's first turn (the initiator's ephemeral key).
    #[default]
    InitiatorKey,
    /// Reading the server's first turn (the responder's handshake message).
    ResponderKey,
    /// Reading the client's `SetupConnection`.
    Setup,
    /// Reading the server's answer to it.
    SetupAnswer,
    /// Confirmed: counting messages.
    Session,
    /// Not SV2; nothing more is read.
    NotSv2,
}

impl Phase {
    /// The side whose turn the phase reads.
    fn sender(self) -> Direction {
        match self {
            Phase::InitiatorKey | Phase::Setup => Direction::ClientToServer,
            _ => Direction::ServerToClient,
        }
    }

    /// Most bytes the turn may hold.
    fn max_bytes(self) -> u64 {
        match self {
            Phase::InitiatorKey => INITIATOR_MESSAGE_SIZE,
            Phase::ResponderKey => RESPONDER_MESSAGE_SIZE,
            Phase::Setup => *SETUP_CONNECTION_FRAME.end(),
            Phase::SetupAnswer => *SETUP_ANSWER_FRAME.end(),
            Phase::Session | Phase::NotSv2 => u64::MAX,
        }
    }
}

/// What a confirmed SV2 session showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sv2Session {
    /// Messages after the handshake, client to server and server to client (runs of bytes,
    /// see [`MESSAGE_GAP_S`]); the set-up exchange counts one each way.
    pub messages: [u64; 2],
}

/// Per-flow detector of Stratum V2 by the sizes of its Noise handshake and set-up frames (see
/// the module documentation).
///
/// Feed both directions with [`Sv2Detector::on_chunk`] while [`Sv2Detector::wants_more`] is
/// true, then read [`Sv2Detector::session`]. A fixed 80-odd bytes, no allocation; never panics.
/// Once confirmed it stays confirmed; once it gives up nothing changes any more.
#[derive(Debug, Clone, Default)]
pub struct Sv2Detector {
    phase: Phase,
    /// Bytes of the turn being read.
    turn: u64,
    /// Byte values seen in the handshake message being read, as a bit set, and their count.
    seen: [u64; 4],
    distinct: u32,
    /// Some byte among the first encrypted-header-sized bytes of the set-up turn being read is
    /// not text.
    binary: bool,
    /// Direction and capture time of the last bytes read.
    last: Option<(Direction, f64)>,
    /// Messages each way (counted from the set-up on).
    messages: [u64; 2],
}

impl Sv2Detector {
    /// A detector that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds reassembled stream bytes of one direction; `ts` is the capture time (epoch
    /// seconds) of the packet that delivered them. A gap before the decision ends the look
    /// (turn sizes can no longer be known); after it, a gap is skipped.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, ts: f64) {
        match chunk {
            Chunk::Gap(_) => {
                if self.phase != Phase::Session {
                    self.give_up();
                }
            }
            Chunk::Data([]) => {}
            Chunk::Data(bytes) => self.on_data(dir, bytes, ts),
        }
    }

    /// False once the flow is known not to be SV2. A confirmed session keeps returning true,
    /// so that its messages are counted to the end.
    pub fn wants_more(&self) -> bool {
        self.phase != Phase::NotSv2
    }

    /// True once the flow is confirmed as SV2.
    pub fn is_confirmed(&self) -> bool {
        self.phase == Phase::Session
    }

    /// The session's counters; `None` unless confirmed.
    pub fn session(&self) -> Option<Sv2Session> {
        self.is_confirmed().then_some(Sv2Session {
            messages: self.messages,
        })
    }

    fn give_up(&mut self) {
        self.phase = Phase::NotSv2;
    }

    fn on_data(&mut self, dir: Direction, bytes: &[u8], ts: f64) {
        match self.phase {
            Phase::NotSv2 => return,
            Phase::Session => return self.count(dir, ts),
            p if dir != p.sender() => {
                // The other side speaks: the turn being read is complete.
                if !self.turn_fits() {
                    return self.give_up();
                }
                self.phase = match p {
                    Phase::InitiatorKey => Phase::ResponderKey,
                    Phase::ResponderKey => Phase::Setup,
                    Phase::Setup => Phase::SetupAnswer,
                    _ => Phase::Session,
                };
                self.turn = 0;
                self.seen = [0; 4];
                self.distinct = 0;
                self.binary = false;
                if self.phase == Phase::Session {
                    self.messages = [1, 1];
                    return self.count(dir, ts);
                }
            }
            _ => {}
        }
        self.read_turn(bytes);
        self.last = Some((dir, ts));
    }

    /// Whether the turn just ended has the size and look its phase requires.
    fn turn_fits(&self) -> bool {
        match self.phase {
            Phase::InitiatorKey => {
                self.turn == INITIATOR_MESSAGE_SIZE && self.distinct >= INITIATOR_MIN_DISTINCT
            }
            Phase::ResponderKey => {
                self.turn == RESPONDER_MESSAGE_SIZE && self.distinct >= RESPONDER_MIN_DISTINCT
            }
            Phase::Setup => SETUP_CONNECTION_FRAME.contains(&self.turn) && self.binary,
            Phase::SetupAnswer => SETUP_ANSWER_FRAME.contains(&self.turn) && self.binary,
            Phase::Session | Phase::NotSv2 => false,
        }
    }

    /// Adds bytes to the turn being read, giving up as soon as the turn can no longer fit.
    fn read_turn(&mut self, bytes: &[u8]) {
        let max = self.phase.max_bytes();
        let len = bytes.len() as u64;
        if len > max - self.turn {
            return self.give_up();
        }
        match self.phase {
            Phase::InitiatorKey | Phase::ResponderKey => {
                for &b in bytes {
                    let (word, bit) = (usize::from(b >> 6), 1u64 << (b & 63));
                    if self.seen[word] & bit == 0 {
                        self.seen[word] |= bit;
                        self.distinct += 1;
                    }
                }
                let need = if self.phase == Phase::InitiatorKey {
                    INITIATOR_MIN_DISTINCT
                } else {
                    RESPONDER_MIN_DISTINCT
                };
                self.turn += len;
                // Even all-new values in the rest of the message could not reach the bar.
                if u64::from(self.distinct) + (max - self.turn) < u64::from(need) {
                    self.give_up();
                }
            }
            _ => {
                // An encrypted header is 22 random-looking bytes; 22 bytes of text (the chance
                // is below 1e-9 for ciphertext) are a plaintext protocol.
                let head = ENCRYPTED_SV2_FRAME_HEADER_SIZE.saturating_sub(self.turn);
                let head = &bytes[..bytes.len().min(head as usize)];
                self.binary |= head.iter().any(|&b| !is_text(b));
                self.turn += len;
                if self.turn >= ENCRYPTED_SV2_FRAME_HEADER_SIZE && !self.binary {
                    self.give_up();
                }
            }
        }
    }

    /// Counts the bytes of a confirmed session as messages.
    fn count(&mut self, dir: Direction, ts: f64) {
        let new = match self.last {
            Some((d, t)) => d != dir || ts - t >= MESSAGE_GAP_S,
            None => true,
        };
        if new {
            self.messages[dir.index()] += 1;
        }
        self.last = Some((dir, ts));
    }
}

/// Printable ASCII or the whitespace of text protocols.
fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n')
}
