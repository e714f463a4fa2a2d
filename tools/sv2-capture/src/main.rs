//! Stratum V2 pool and miner stubs over TCP, built on the reference implementation's crates
//! (`noise_sv2` for the Noise NX handshake, `codec_sv2`/`framing_sv2` for the encrypted framing,
//! `common_messages_sv2`/`mining_sv2` for the messages), so that poolscope's SV2 detector is
//! tested on traffic the reference code really produces. Also look-alike peers that are not SV2
//! (random bytes of the right first size, then something else), for the negatives.
//!
//! ```text
//! sv2-capture pool  ADDR [--extended] [--job-every S] [--job-jitter F] [--block-every S] [--seed N]
//!                                                         serve one SV2 mining session
//! sv2-capture miner ADDR [--extended] [--shares N] [--seconds S] [--handshake-only] [--seed N]
//! sv2-capture fake-server ADDR   /   sv2-capture fake-client ADDR MODE
//! ```
//!
//! The pool answers `SetupConnection` with `SetupConnectionSuccess` and the channel opening
//! with its success message, pushes a future job and `SetNewPrevHash` at once and a new job
//! every `--job-every` seconds, and answers each share with `SubmitSharesSuccess`. The miner
//! submits shares at random (exponential) intervals. Every frame each side receives is
//! decrypted and decoded with the reference decoder, and its message type checked.

use binary_sv2::{Seq0255, Str0255, Sv2Option, B032, B064K, U256};
use codec_sv2::{
    Decrypted, Handshake, MessageFrame, NoiseDecoder, NoiseEncoder, SerializedFrame,
    TransportDecryptState, TransportEncryptState,
};
use common_messages_sv2::{
    Protocol, SetupConnection, SetupConnectionSuccess, MESSAGE_TYPE_SETUP_CONNECTION,
    MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS,
};
use key_utils::{Secp256k1PublicKey, Secp256k1SecretKey};
use mining_sv2::{
    NewExtendedMiningJob, NewMiningJob, OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess, OpenStandardMiningChannel, OpenStandardMiningChannelSuccess,
    SetNewPrevHash, SubmitSharesExtended, SubmitSharesStandard, SubmitSharesSuccess,
    MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH, MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB,
    MESSAGE_TYPE_NEW_MINING_JOB, MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL,
    MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS, MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL,
    MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS, MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED,
    MESSAGE_TYPE_SUBMIT_SHARES_STANDARD, MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS,
};
use noise_sv2::{
    Initiator, Responder, ELLSWIFT_ENCODING_SIZE, INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE,
};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The authority key pair of codec_sv2's own encrypted example (a test key, public).
const AUTHORITY_PUBLIC_K: &str = "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72";
const AUTHORITY_PRIVATE_K: &str = "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n";
const CERT_VALIDITY: Duration = Duration::from_secs(3600);

const CHANNEL_ID: u32 = 1;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("pool") => pool(&args[1..]),
        Some("miner") => miner(&args[1..]),
        Some("fake-server") => fake_server(&args[1..]),
        Some("fake-client") => fake_client(&args[1..]),
        _ => Err("usage: sv2-capture pool|miner|fake-server|fake-client ADDR [options]".into()),
    };
    if let Err(e) = res {
        eprintln!("sv2-capture: {e}");
        std::process::exit(1);
    }
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn log(role: &str, what: &str) {
    eprintln!("{role}: {what}");
}

// ---------------------------------------------------------------------------------------------
// Framing helpers over the reference codec

/// Encrypts one message into an SV2 frame and writes it in one `write_all`, as the reference
/// roles do.
fn send<T: binary_sv2::Serialize + binary_sv2::GetSize>(
    stream: &mut TcpStream,
    enc: &mut NoiseEncoder,
    state: &mut TransportEncryptState,
    msg: T,
    msg_type: u8,
    channel_msg: bool,
) -> Result<usize> {
    let frame = MessageFrame::from_message(msg, msg_type, 0, channel_msg)
        .map_err(|e| format!("frame: {e:?}"))?;
    let bytes = enc
        .encode_transport(frame, state)
        .map_err(|e| format!("encode: {e:?}"))?;
    let bytes: &[u8] = bytes.as_ref();
    stream.write_all(bytes)?;
    Ok(bytes.len())
}

/// Reads one encrypted frame with the reference decoder; `None` at the end of the stream.
fn recv(
    stream: &mut TcpStream,
    dec: &mut NoiseDecoder,
    state: TransportDecryptState,
) -> Result<Option<(SerializedFrame, TransportDecryptState)>> {
    let mut state = state;
    loop {
        let buf = dec.writable();
        if !buf.is_empty() {
            match stream.read_exact(buf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        match dec.next_transport_frame(state) {
            Ok(Decrypted::Frame(f, s)) => return Ok(Some((f, s))),
            Ok(Decrypted::Incomplete(_, s)) => state = s,
            Err(e) => return Err(format!("decrypt: {e:?}").into()),
        }
    }
}

fn expect_type(frame: &SerializedFrame, want: u8) -> Result<()> {
    let got = frame.header().msg_type();
    if got != want {
        return Err(format!("expected message type {want:#04x}, got {got:#04x}").into());
    }
    Ok(())
}

/// binary_sv2's errors are `Debug` only (the crate is `no_std`).
fn bin<T>(r: std::result::Result<T, binary_sv2::Error>) -> Result<T> {
    r.map_err(|e| format!("binary_sv2: {e:?}").into())
}

fn u256(b: &[u8; 32]) -> U256<'_> {
    U256::from(b)
}

// ---------------------------------------------------------------------------------------------
// Pool

fn pool(args: &[String]) -> Result<()> {
    let addr = args.first().ok_or("pool ADDR")?;
    let extended = flag(args, "--extended");
    let job_every: f64 = opt(args, "--job-every", 5.0);
    let job_jitter: f64 = opt(args, "--job-jitter", 0.0);
    let block_every: f64 = opt(args, "--block-every", 0.0);
    let seed: u64 = opt(args, "--seed", 7);
    let mut timing = StdRng::seed_from_u64(seed);
    let listener = TcpListener::bind(addr)?;
    log("pool", &format!("listening on {addr}"));
    let (mut stream, peer) = listener.accept()?;
    stream.set_nodelay(true)?;
    log("pool", &format!("connection from {peer}"));

    // Noise NX, responder side: read the initiator's 64-byte ElligatorSwift key, answer with
    // the 234-byte message (ephemeral key, encrypted static key, encrypted certificate).
    let public: Secp256k1PublicKey = AUTHORITY_PUBLIC_K.to_string().try_into()?;
    let private: Secp256k1SecretKey = AUTHORITY_PRIVATE_K.to_string().try_into()?;
    let responder =
        Responder::from_authority_kp(&public.into_bytes(), &private.into_bytes(), CERT_VALIDITY)
            .map_err(|e| format!("responder: {e:?}"))?;
    let mut first = [0u8; ELLSWIFT_ENCODING_SIZE];
    if let Err(e) = stream.read_exact(&mut first) {
        log("pool", &format!("no handshake: {e}"));
        return Ok(());
    }
    let (reply, transport) = Handshake::responder(responder)
        .step_1(first)
        .map_err(|e| format!("step_1: {e:?}"))?;
    stream.write_all(reply.payload())?;
    log(
        "pool",
        &format!(
            "handshake: read {} bytes, sent {}",
            first.len(),
            reply.payload().len()
        ),
    );
    let (mut enc_state, dec_state) = transport.split();
    let mut enc = NoiseEncoder::new();
    let mut dec = NoiseDecoder::new();

    let Some((mut f, dec_state)) = recv(&mut stream, &mut dec, dec_state)? else {
        log("pool", "closed after the handshake");
        return Ok(());
    };
    expect_type(&f, MESSAGE_TYPE_SETUP_CONNECTION)?;
    let setup: SetupConnection =
        binary_sv2::from_bytes(f.payload()).map_err(|e| format!("{e:?}"))?;
    log(
        "pool",
        &format!(
            "SetupConnection from {}",
            String::from_utf8_lossy(setup.vendor.as_bytes())
        ),
    );
    let n = send(
        &mut stream,
        &mut enc,
        &mut enc_state,
        SetupConnectionSuccess {
            used_version: 2,
            flags: 0,
        },
        MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS,
        false,
    )?;
    log("pool", &format!("SetupConnectionSuccess ({n} bytes)"));

    let Some((mut f, dec_state)) = recv(&mut stream, &mut dec, dec_state)? else {
        log("pool", "closed after setup");
        return Ok(());
    };
    let target = [0xffu8; 32];
    let mut prefix = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut prefix);
    if extended {
        expect_type(&f, MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL)?;
        let open: OpenExtendedMiningChannel =
            binary_sv2::from_bytes(f.payload()).map_err(|e| format!("{e:?}"))?;
        let n = send(
            &mut stream,
            &mut enc,
            &mut enc_state,
            OpenExtendedMiningChannelSuccess {
                request_id: open.request_id,
                channel_id: CHANNEL_ID,
                target: u256(&target),
                extranonce_size: 8,
                extranonce_prefix: bin(B032::new(&prefix[..]))?,
                group_channel_id: 0,
            },
            MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
            false,
        )?;
        log(
            "pool",
            &format!("OpenExtendedMiningChannelSuccess ({n} bytes)"),
        );
    } else {
        expect_type(&f, MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL)?;
        let open: OpenStandardMiningChannel =
            binary_sv2::from_bytes(f.payload()).map_err(|e| format!("{e:?}"))?;
        log(
            "pool",
            &format!(
                "OpenStandardMiningChannel for {}",
                String::from_utf8_lossy(open.user_identity.as_bytes())
            ),
        );
        let n = send(
            &mut stream,
            &mut enc,
            &mut enc_state,
            OpenStandardMiningChannelSuccess {
                request_id: open.request_id,
                channel_id: CHANNEL_ID,
                target: u256(&target),
                extranonce_prefix: bin(B032::new(&prefix[..]))?,
                group_channel_id: 0,
            },
            MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS,
            false,
        )?;
        log(
            "pool",
            &format!("OpenStandardMiningChannelSuccess ({n} bytes)"),
        );
    }

    // The reader thread decodes the miner's shares and hands their sequence numbers over.
    let (tx, rx) = mpsc::channel::<Option<u32>>();
    let mut reader = stream.try_clone()?;
    let want = if extended {
        MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED
    } else {
        MESSAGE_TYPE_SUBMIT_SHARES_STANDARD
    };
    let handle = std::thread::spawn(move || -> Result<()> {
        let mut state = dec_state;
        loop {
            match recv(&mut reader, &mut dec, state)? {
                None => {
                    let _ = tx.send(None);
                    return Ok(());
                }
                Some((mut f, s)) => {
                    state = s;
                    expect_type(&f, want)?;
                    let seq = if want == MESSAGE_TYPE_SUBMIT_SHARES_STANDARD {
                        binary_sv2::from_bytes::<SubmitSharesStandard>(f.payload())
                            .map_err(|e| format!("{e:?}"))?
                            .sequence_number
                    } else {
                        binary_sv2::from_bytes::<SubmitSharesExtended>(f.payload())
                            .map_err(|e| format!("{e:?}"))?
                            .sequence_number
                    };
                    let _ = tx.send(Some(seq));
                }
            }
        }
    });

    let mut rng = rand::thread_rng();
    let mut job_id = 0u32;
    let mut push_job = |stream: &mut TcpStream,
                        enc: &mut NoiseEncoder,
                        st: &mut TransportEncryptState,
                        future: bool|
     -> Result<()> {
        job_id += 1;
        let mut root = [0u8; 32];
        rng.fill_bytes(&mut root);
        let min_ntime = if future {
            None
        } else {
            Some(1_767_225_600 + job_id)
        };
        let n = if extended {
            // A coinbase paying many outputs (a pool paying miners from the coinbase) and a
            // merkle path of a full block: several KiB, split over TCP segments.
            let path: Vec<[u8; 32]> = (0..12)
                .map(|_| {
                    let mut h = [0u8; 32];
                    rng.fill_bytes(&mut h);
                    h
                })
                .collect();
            let mut prefix = vec![0u8; 58];
            rng.fill_bytes(&mut prefix);
            let mut suffix = vec![0u8; 2_800];
            rng.fill_bytes(&mut suffix);
            send(
                stream,
                enc,
                st,
                NewExtendedMiningJob {
                    channel_id: CHANNEL_ID,
                    job_id,
                    min_ntime: Sv2Option::new(min_ntime),
                    version: 0x2000_0000,
                    version_rolling_allowed: true,
                    merkle_path: bin(Seq0255::new(path.iter().map(u256).collect()))?,
                    coinbase_tx_prefix: bin(B064K::new(&prefix[..]))?,
                    coinbase_tx_suffix: bin(B064K::new(&suffix[..]))?,
                },
                MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB,
                true,
            )?
        } else {
            send(
                stream,
                enc,
                st,
                NewMiningJob {
                    channel_id: CHANNEL_ID,
                    job_id,
                    min_ntime: Sv2Option::new(min_ntime),
                    version: 0x2000_0000,
                    merkle_root: u256(&root),
                },
                MESSAGE_TYPE_NEW_MINING_JOB,
                true,
            )?
        };
        log("pool", &format!("job {job_id} ({n} bytes)"));
        if future {
            let mut prev = [0u8; 32];
            rng.fill_bytes(&mut prev);
            let n = send(
                stream,
                enc,
                st,
                SetNewPrevHash {
                    channel_id: CHANNEL_ID,
                    job_id,
                    prev_hash: u256(&prev),
                    min_ntime: 1_767_225_600,
                    nbits: 0x1702_3a04,
                },
                MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH,
                true,
            )?;
            log(
                "pool",
                &format!("SetNewPrevHash for job {job_id} ({n} bytes)"),
            );
        }
        Ok(())
    };
    push_job(&mut stream, &mut enc, &mut enc_state, true)?;
    // Template updates every `--job-every` seconds, each interval stretched or shrunk by up to
    // `--job-jitter` of itself; blocks at exponential intervals of mean `--block-every` seconds
    // (0: every third job is a block instead).
    let mut gap = |mean: f64, jitter: f64, exponential: bool| -> Duration {
        let u: f64 = timing.gen();
        let s = if exponential {
            -mean * (1.0 - u).ln()
        } else {
            mean * (1.0 + jitter * (2.0 * u - 1.0))
        };
        Duration::from_secs_f64(s.max(0.05))
    };
    let mut next_job = Instant::now() + gap(job_every, job_jitter, false);
    let mut next_block = (block_every > 0.0).then(|| Instant::now() + gap(block_every, 0.0, true));
    let mut jobs = 1;
    let mut accepted = 0u32;
    loop {
        let due = next_block.map_or(next_job, |b| b.min(next_job));
        let wait = due.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Some(seq)) => {
                accepted += 1;
                let n = send(
                    &mut stream,
                    &mut enc,
                    &mut enc_state,
                    SubmitSharesSuccess {
                        channel_id: CHANNEL_ID,
                        last_sequence_number: seq,
                        new_submits_accepted_count: 1,
                        new_shares_sum: 1,
                    },
                    MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS,
                    true,
                )?;
                log("pool", &format!("share {seq} accepted ({n} bytes)"));
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                jobs += 1;
                let now = Instant::now();
                if let Some(b) = next_block.filter(|b| *b <= now) {
                    // A new block: a future job and its prev hash; the template timer restarts.
                    push_job(&mut stream, &mut enc, &mut enc_state, true)?;
                    next_block = Some(b + gap(block_every, 0.0, true));
                    next_job = now + gap(job_every, job_jitter, false);
                } else {
                    let block = next_block.is_none() && jobs % 3 == 0;
                    push_job(&mut stream, &mut enc, &mut enc_state, block)?;
                    next_job += gap(job_every, job_jitter, false);
                }
            }
        }
    }
    handle.join().map_err(|_| "reader panicked")??;
    log(
        "pool",
        &format!("miner left: {jobs} job pushes, {accepted} shares accepted"),
    );
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Miner

fn miner(args: &[String]) -> Result<()> {
    let addr = args.first().ok_or("miner ADDR")?;
    let extended = flag(args, "--extended");
    let handshake_only = flag(args, "--handshake-only");
    let shares: u32 = opt(args, "--shares", 10);
    let seconds: f64 = opt(args, "--seconds", 20.0);
    let seed: u64 = opt(args, "--seed", 19);
    let mut timing = StdRng::seed_from_u64(seed);
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;

    let public: Secp256k1PublicKey = AUTHORITY_PUBLIC_K.to_string().try_into()?;
    let initiator =
        Initiator::from_raw_k(public.into_bytes()).map_err(|e| format!("initiator: {e:?}"))?;
    let (first, sent) = Handshake::initiator(initiator)
        .step_0()
        .map_err(|e| format!("step_0: {e:?}"))?;
    stream.write_all(first.payload())?;
    let mut reply = [0u8; INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE];
    stream.read_exact(&mut reply)?;
    let transport = sent.step_2(reply).map_err(|e| format!("step_2: {e:?}"))?;
    log(
        "miner",
        &format!(
            "handshake: sent {} bytes, read {}",
            first.payload().len(),
            reply.len()
        ),
    );
    if handshake_only {
        std::thread::sleep(Duration::from_millis(500));
        stream.shutdown(Shutdown::Both)?;
        log("miner", "closed after the handshake");
        return Ok(());
    }
    let (mut enc_state, dec_state) = transport.split();
    let mut enc = NoiseEncoder::new();
    let mut dec = NoiseDecoder::new();

    let n = send(
        &mut stream,
        &mut enc,
        &mut enc_state,
        SetupConnection {
            protocol: Protocol::MiningProtocol,
            min_version: 2,
            max_version: 2,
            flags: if extended { 0 } else { 1 }, // REQUIRES_STANDARD_JOBS for a header-only miner
            endpoint_host: bin(Str0255::new(b"10.77.0.1"))?,
            endpoint_port: 34254,
            vendor: bin(Str0255::new(b"poolscope-sv2-capture"))?,
            hardware_version: bin(Str0255::new(b"cpu"))?,
            firmware: bin(Str0255::new(b"0.1.0"))?,
            device_id: bin(Str0255::new(b"rig-19"))?,
        },
        MESSAGE_TYPE_SETUP_CONNECTION,
        false,
    )?;
    log("miner", &format!("SetupConnection ({n} bytes)"));
    let Some((f, dec_state)) = recv(&mut stream, &mut dec, dec_state)? else {
        return Err("pool closed after SetupConnection".into());
    };
    expect_type(&f, MESSAGE_TYPE_SETUP_CONNECTION_SUCCESS)?;

    let max_target = [0xffu8; 32];
    let user = b"bc1qpoolscopeexampleaddress0sv2.rig19";
    let n = if extended {
        send(
            &mut stream,
            &mut enc,
            &mut enc_state,
            OpenExtendedMiningChannel {
                request_id: 1,
                user_identity: bin(Str0255::new(&user[..]))?,
                nominal_hash_rate: 1.0e12,
                max_target: u256(&max_target),
                min_extranonce_size: 8,
            },
            MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL,
            false,
        )?
    } else {
        send(
            &mut stream,
            &mut enc,
            &mut enc_state,
            OpenStandardMiningChannel {
                request_id: 1,
                user_identity: bin(Str0255::new(&user[..]))?,
                nominal_hash_rate: 1.0e12,
                max_target: u256(&max_target),
            },
            MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL,
            false,
        )?
    };
    log("miner", &format!("open channel ({n} bytes)"));
    let Some((f, dec_state)) = recv(&mut stream, &mut dec, dec_state)? else {
        return Err("pool closed after the channel request".into());
    };
    expect_type(
        &f,
        if extended {
            MESSAGE_TYPE_OPEN_EXTENDED_MINING_CHANNEL_SUCCESS
        } else {
            MESSAGE_TYPE_OPEN_STANDARD_MINING_CHANNEL_SUCCESS
        },
    )?;

    // Jobs, new prev hashes and share answers arrive on the reader thread; shares go out from
    // here at random times.
    let (tx, rx) = mpsc::channel::<u32>();
    let mut reader = stream.try_clone()?;
    let handle = std::thread::spawn(move || -> Result<(u32, u32, u32)> {
        let (mut jobs, mut prevs, mut acks) = (0u32, 0u32, 0u32);
        let mut state = dec_state;
        while let Some((f, s)) = recv(&mut reader, &mut dec, state)? {
            state = s;
            match f.header().msg_type() {
                MESSAGE_TYPE_NEW_MINING_JOB | MESSAGE_TYPE_NEW_EXTENDED_MINING_JOB => {
                    jobs += 1;
                    let _ = tx.send(jobs);
                }
                MESSAGE_TYPE_MINING_SET_NEW_PREV_HASH => prevs += 1,
                MESSAGE_TYPE_SUBMIT_SHARES_SUCCESS => acks += 1,
                t => return Err(format!("unexpected message type {t:#04x}").into()),
            }
        }
        Ok((jobs, prevs, acks))
    });
    let start = Instant::now();
    let mut job = 0u32;
    let mut sent_shares = 0u32;
    while sent_shares < shares && start.elapsed().as_secs_f64() < seconds {
        // Shares at exponential intervals (mean: the session length over the share count).
        let mean = seconds / f64::from(shares + 1);
        let gap = -mean * (1.0 - timing.gen::<f64>()).ln();
        std::thread::sleep(Duration::from_secs_f64(gap.min(seconds)));
        while let Ok(j) = rx.try_recv() {
            job = j;
        }
        if job == 0 {
            job = rx.recv()?;
        }
        sent_shares += 1;
        let n = if extended {
            let extranonce: [u8; 8] = timing.gen();
            send(
                &mut stream,
                &mut enc,
                &mut enc_state,
                SubmitSharesExtended {
                    channel_id: CHANNEL_ID,
                    sequence_number: sent_shares,
                    job_id: job,
                    nonce: timing.gen(),
                    ntime: 1_767_225_600 + sent_shares,
                    version: 0x2000_0000,
                    extranonce: bin(B032::new(&extranonce[..]))?,
                },
                MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED,
                true,
            )?
        } else {
            send(
                &mut stream,
                &mut enc,
                &mut enc_state,
                SubmitSharesStandard {
                    channel_id: CHANNEL_ID,
                    sequence_number: sent_shares,
                    job_id: job,
                    nonce: timing.gen(),
                    ntime: 1_767_225_600 + sent_shares,
                    version: 0x2000_0000,
                },
                MESSAGE_TYPE_SUBMIT_SHARES_STANDARD,
                true,
            )?
        };
        log(
            "miner",
            &format!("share {sent_shares} for job {job} ({n} bytes)"),
        );
    }
    let rest = seconds - start.elapsed().as_secs_f64();
    if rest > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(rest));
    }
    // Give the last answer time to arrive, then leave.
    std::thread::sleep(Duration::from_millis(300));
    stream.shutdown(Shutdown::Write)?;
    let (jobs, prevs, acks) = handle.join().map_err(|_| "reader panicked")??;
    log(
        "miner",
        &format!(
            "done: {sent_shares} shares sent, {acks} accepted, {jobs} jobs, {prevs} prev hashes"
        ),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Look-alikes: first client message of the SV2 initiator's size, then something else.

/// Modes of the look-alike client; the server answers each as the client's first line says.
const MODES: &[&str] = &[
    "http-answer",
    "plain-after",
    "extra-client",
    "short-setup",
    "long-reply",
];

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn read_some(stream: &mut TcpStream, n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Serves one look-alike connection per mode, in the order of [`MODES`].
fn fake_server(args: &[String]) -> Result<()> {
    let addr = args.first().ok_or("fake-server ADDR")?;
    let listener = TcpListener::bind(addr)?;
    for mode in MODES {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        match *mode {
            "http-answer" => {
                read_some(&mut s, 64)?;
                s.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )?;
            }
            "plain-after" => {
                read_some(&mut s, 64)?;
                s.write_all(&random(234))?;
                read_some(&mut s, 80)?;
                s.write_all(b"OK welcome, protocol version 2, flags 0, ready\n")?;
                read_some(&mut s, 60)?;
            }
            "extra-client" => {
                read_some(&mut s, 80)?;
                s.write_all(&random(234))?;
                read_some(&mut s, 120)?;
                s.write_all(&random(44))?;
                read_some(&mut s, 62)?;
            }
            "short-setup" => {
                read_some(&mut s, 64)?;
                s.write_all(&random(234))?;
                read_some(&mut s, 40)?;
                s.write_all(&random(44))?;
                read_some(&mut s, 62)?;
            }
            "long-reply" => {
                read_some(&mut s, 64)?;
                s.write_all(&random(300))?;
                read_some(&mut s, 120)?;
                s.write_all(&random(44))?;
            }
            _ => unreachable!(),
        }
        pause(200);
        let _ = s.shutdown(Shutdown::Both);
        log("fake-server", &format!("{mode} done"));
    }
    Ok(())
}

fn fake_client(args: &[String]) -> Result<()> {
    let addr = args.first().ok_or("fake-client ADDR")?;
    for mode in MODES {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        match *mode {
            "http-answer" => {
                s.write_all(&random(64))?;
                let mut sink = Vec::new();
                s.read_to_end(&mut sink)?;
            }
            "plain-after" => {
                s.write_all(&random(64))?;
                read_some(&mut s, 234)?;
                pause(50);
                let mut line =
                    b"HELLO pool, this is a plain text line after 64 random bytes".to_vec();
                line.resize(79, b' ');
                line.push(b'\n');
                s.write_all(&line)?;
                read_some(&mut s, 47)?;
                pause(50);
                let mut line = b"SUBMIT job=1 nonce=0badf00d".to_vec();
                line.resize(59, b' ');
                line.push(b'\n');
                s.write_all(&line)?;
            }
            "extra-client" => {
                s.write_all(&random(64))?;
                pause(50);
                s.write_all(&random(16))?;
                read_some(&mut s, 234)?;
                pause(50);
                s.write_all(&random(120))?;
                read_some(&mut s, 44)?;
                pause(50);
                s.write_all(&random(62))?;
            }
            "short-setup" => {
                s.write_all(&random(64))?;
                read_some(&mut s, 234)?;
                pause(50);
                s.write_all(&random(40))?;
                read_some(&mut s, 44)?;
                pause(50);
                s.write_all(&random(62))?;
            }
            "long-reply" => {
                s.write_all(&random(64))?;
                read_some(&mut s, 300)?;
                pause(50);
                s.write_all(&random(120))?;
                read_some(&mut s, 44)?;
            }
            _ => unreachable!(),
        }
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        log("fake-client", &format!("{mode} done"));
        pause(300);
    }
    Ok(())
}
