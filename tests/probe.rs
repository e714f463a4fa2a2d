//! `poolscope feed refresh`, `feed probe` and `feed learn` end to end, against real servers on
//! loopback: `openssl s_server` and an in-process rustls server, with certificates the openssl
//! CLI makes in each test (self-signed, CA → intermediate → leaf, expired, one per SNI, huge),
//! plus std TcpListener stubs (a Monero pool, a Bitcoin-only pool, an HTTP server, a banner, a
//! port that never answers, a server that resets mid-handshake). Certificate digests are checked
//! against `openssl x509 -fingerprint` of the served file.
//!
//! Nothing here connects beyond 127.0.0.1 and no host name is resolved (endpoint rows carry the
//! address; names are only sent as SNI, with `--no-resolve`). Every server stops by itself:
//! child processes are killed by Drop guards and exit anyway when their stdin (a pipe held by
//! the test) closes; listener threads stop on a flag or after [`LIFETIME`]; every loop is
//! bounded in count and time.

mod common;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Longest life of any server a test starts.
const LIFETIME: Duration = Duration::from_secs(60);
/// Longest run of the binary before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------------
// Running things

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `poolscope` with a watchdog.
fn poolscope(args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolscope"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run poolscope");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("poolscope {args:?} ran longer than {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Certificates, made with the openssl CLI

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        Pki {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn run(&self, args: &[&str]) -> String {
        openssl(self.dir.path(), args)
    }

    /// `extra` more DNS names in the SAN make a big certificate.
    fn sans(cn: &str, extra: usize) -> String {
        let mut v = format!("subjectAltName=DNS:{cn}");
        for i in 0..extra {
            v.push_str(&format!(",DNS:h{i:04}.{cn}"));
        }
        v
    }

    /// `name.pem` / `name.key`: a self-signed certificate for `cn`.
    fn self_signed(&self, name: &str, cn: &str, extra_sans: usize) {
        let (cert, key, subj) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("/CN={cn}"),
        );
        let san = Self::sans(cn, extra_sans);
        let mut args = vec!["req", "-x509"];
        args.extend(EC);
        args.extend([
            "-nodes", "-keyout", &key, "-out", &cert, "-days", "30", "-subj", &subj, "-addext",
            &san,
        ]);
        self.run(&args);
    }

    /// `ca` (root) and `int` (intermediate signed by the root).
    fn ca(&self) {
        let mut args = vec!["req", "-x509"];
        args.extend(EC);
        args.extend([
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Probe Test Root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        self.run(&args);
        std::fs::write(
            self.path("int.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        self.sign("int", "/CN=Probe Test Intermediate", "ca", "int.ext");
    }

    fn sign(&self, name: &str, subj: &str, issuer: &str, ext: &str) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        let mut args = vec!["req", "-new"];
        args.extend(EC);
        args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", subj]);
        self.run(&args);
        let (ca, ca_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
        self.run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            ext,
            "-out",
            &cert,
        ]);
    }

    /// `name.pem` / `name.key`: a leaf for `cn` signed by the intermediate.
    fn leaf(&self, name: &str, cn: &str, extra_sans: usize) {
        let ext = format!("{name}.ext");
        std::fs::write(
            self.path(&ext),
            format!(
                "basicConstraints=CA:FALSE\n{}\n",
                Self::sans(cn, extra_sans)
            ),
        )
        .unwrap();
        self.sign(name, &format!("/CN={cn}"), "int", &ext);
    }

    /// `name.pem` / `name.key`: a self-signed X.509 v3 certificate valid in January 2020 only
    /// (`openssl ca` takes explicit dates; `openssl x509` in OpenSSL 3.0 does not).
    fn expired(&self, name: &str, cn: &str) {
        std::fs::write(
            self.path("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = .\n\
                 serial = ./serial\ndefault_md = sha256\npolicy = p\nx509_extensions = ext\n\
                 [p]\ncommonName = supplied\n[ext]\nbasicConstraints = CA:FALSE\n\
                 subjectAltName = DNS:{cn}\n"
            ),
        )
        .unwrap();
        std::fs::write(self.path("index.txt"), "").unwrap();
        std::fs::write(self.path("serial"), "1000\n").unwrap();
        let (cert, key, csr, subj) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("/CN={cn}"),
        );
        let mut args = vec!["req", "-new"];
        args.extend(EC);
        args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj]);
        self.run(&args);
        self.run(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            &key,
            "-in",
            &csr,
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
            "-notext",
            "-out",
            &cert,
        ]);
    }

    /// SHA-256 fingerprint of `name.pem` as `openssl x509 -fingerprint` prints it, as lowercase
    /// hex.
    fn sha256(&self, name: &str) -> String {
        let out = self.run(&[
            "x509",
            "-in",
            &format!("{name}.pem"),
            "-noout",
            "-fingerprint",
            "-sha256",
        ]);
        let hex = out.trim().rsplit('=').next().unwrap();
        hex.replace(':', "").to_ascii_lowercase()
    }

    /// SHA-256 over the DER SubjectPublicKeyInfo of `name.pem`, computed by openssl.
    fn spki_sha256(&self, name: &str) -> String {
        let pubkey = self.run(&["x509", "-in", &format!("{name}.pem"), "-pubkey", "-noout"]);
        std::fs::write(self.path(&format!("{name}.pub")), pubkey).unwrap();
        let der = format!("{name}.spki.der");
        self.run(&[
            "pkey",
            "-pubin",
            "-in",
            &format!("{name}.pub"),
            "-outform",
            "DER",
            "-out",
            &der,
        ]);
        let out = self.run(&["dgst", "-sha256", "-r", &der]);
        out.split_whitespace().next().unwrap().to_string()
    }

    /// A chain file made of the named certificates, in order.
    fn chain_file(&self, name: &str, parts: &[&str]) -> PathBuf {
        let mut text = String::new();
        for p in parts {
            text.push_str(&std::fs::read_to_string(self.path(&format!("{p}.pem"))).unwrap());
        }
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The certificate `name` (with the chain `chain` after it) and its key, for rustls.
    fn certified(&self, name: &str, chain: &[&str]) -> Arc<CertifiedKey> {
        let mut certs = Vec::new();
        for n in std::iter::once(&name).chain(chain) {
            let path = self.path(&format!("{n}.pem"));
            certs.extend(
                CertificateDer::pem_file_iter(&path)
                    .unwrap()
                    .map(Result::unwrap),
            );
        }
        let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(CertifiedKey::from_der(certs, key, &provider).unwrap())
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

/// `openssl s_server` on 127.0.0.1, on a port it picks. Killed on drop; it also exits by
/// itself when its stdin (held here) closes.
struct SServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl SServer {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads the port, then keeps draining stdout until s_server exits.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("ACCEPT ") {
                    let _ = tx.send(addr.rsplit(':').next().and_then(|p| p.parse().ok()));
                }
            }
        });
        let port: Option<u16> = rx.recv_timeout(Duration::from_secs(10)).unwrap_or(None);
        let mut server = SServer {
            child,
            stdin,
            port: 0,
        };
        server.port = port.unwrap_or_else(|| panic!("s_server {args:?} did not start"));
        server
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listener thread on 127.0.0.1 serving each connection with `handler` on its own thread;
/// stops on drop or after [`LIFETIME`].
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let (stop2, accepted2) = (stop.clone(), accepted.clone());
        let thread = thread::spawn(move || {
            let started = Instant::now();
            while !stop2.load(Ordering::SeqCst) && started.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted2.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                        let h = handler.clone();
                        thread::spawn(move || h(stream));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        Server {
            port,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a plaintext stub does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stub {
    /// A Monero pool: `login` gets a job, anything else an error object.
    Monero,
    /// A Bitcoin pool: `mining.subscribe` gets a notification then a subscription; `login`
    /// gets the connection closed.
    BitcoinOnly,
    /// An HTTP server: any request gets a 400.
    Http,
    /// An SMTP-like banner on connect.
    Banner,
    /// Reads 5 bytes, sends half a ServerHello record, and closes with unread data (a reset).
    ResetMidHandshake,
}

const MONERO_JOB: &str = "{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{\"id\":\"s1\",\
    \"job\":{\"blob\":\"0707\",\"job_id\":\"1\",\"target\":\"b88d0600\"},\"status\":\"OK\"}}\n";
const UNKNOWN_METHOD: &str =
    "{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,\"message\":\"Unknown method\"}}\n";
const BTC_SUBSCRIBE: &str = "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[1]}\n\
    {\"id\":1,\"result\":[[[\"mining.set_difficulty\",\"1\"],[\"mining.notify\",\"1\"]],\"08000002\",4],\"error\":null}\n";

/// One request line and the stub's answer, over any stream (plain or TLS).
fn stratum_session<S: Read + Write>(s: &mut S, stub: Stub) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    for _ in 0..64 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.first() == Some(&0x16) {
            return; // a ClientHello on a plaintext port: hang up, as plaintext pools do
        }
        if buf.contains(&b'\n') || buf.len() > 8192 {
            break;
        }
    }
    let line = String::from_utf8_lossy(&buf).into_owned();
    let reply = match stub {
        Stub::Http => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        Stub::Monero if line.contains("\"login\"") => MONERO_JOB,
        Stub::Monero => UNKNOWN_METHOD,
        Stub::BitcoinOnly if line.contains("\"mining.subscribe\"") => BTC_SUBSCRIBE,
        _ => return,
    };
    let _ = s.write_all(reply.as_bytes());
    let _ = s.flush();
}

fn plain_stub(stub: Stub) -> Server {
    Server::start(move |mut s| match stub {
        Stub::Banner => {
            let _ = s.write_all(b"220 mail.test ESMTP ready\r\n");
            let mut sink = [0u8; 1024];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
        Stub::ResetMidHandshake => {
            let mut head = [0u8; 5];
            if s.read_exact(&mut head).is_ok() {
                let _ = s.write_all(&[0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c, 0x03]);
                thread::sleep(Duration::from_millis(50));
            }
            // Dropped with the rest of the ClientHello unread: the kernel sends a reset.
        }
        _ => stratum_session(&mut s, stub),
    })
}

/// A port that accepts connections (the kernel completes them) and never says a word.
fn silent_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A port nothing listens on.
fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Certificates by SNI, with a default for other names; swappable while the server runs.
#[derive(Debug, Default)]
struct SniCerts {
    by_name: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    default: Mutex<Option<Arc<CertifiedKey>>>,
}

impl SniCerts {
    fn set_default(&self, ck: Option<Arc<CertifiedKey>>) {
        *self.default.lock().unwrap() = ck;
    }
}

impl ResolvesServerCert for SniCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_sni = hello
            .server_name()
            .and_then(|n| self.by_name.lock().unwrap().get(n).cloned());
        by_sni.or_else(|| self.default.lock().unwrap().clone())
    }
}

/// A rustls server; after the handshake it speaks Stratum as `stub` when given.
fn rustls_server(certs: Arc<SniCerts>, stub: Option<Stub>) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(certs);
    let config = Arc::new(config);
    Server::start(move |s| {
        let Ok(conn) = ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = StreamOwned::new(conn, s);
        match stub {
            Some(stub) => stratum_session(&mut tls, stub),
            None => {
                let mut buf = [0u8; 256];
                let _ = tls.read(&mut buf);
            }
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

// ---------------------------------------------------------------------------------------------
// Feeds and reports

/// An endpoint list in pool-endpoints.tsv format: (port, host) rows on 127.0.0.1.
fn endpoints_file(dir: &Path, rows: &[(u16, &str)]) -> PathBuf {
    let mut text =
        String::from("# test endpoints, all on loopback\nip\tport\tcoin\thost\tsource\tdate\n");
    for (port, host) in rows {
        text.push_str(&format!(
            "127.0.0.1\t{port}\tXMR\t{host}\ttest\t2026-01-01\n"
        ));
    }
    let path = dir.join("endpoints.tsv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A feeds directory with a pool-certs.tsv holding one row from another source.
const FOREIGN_CERTS: &str = "# Certificates of pool servers (hex, lowercase).\n\
    sha1\tsha256\tspki_sha256\tsubject\tissuer\tfirst_seen\tlast_seen\tsource\tnote\n\
    abcdef0123456789abcdef0123456789abcdef01\t\t\tCN=old.pool\tCN=old.pool\t2019-05-01\t\tlearned\tfrom an old capture\n";

fn feeds_dir() -> TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pool-certs.tsv"), FOREIGN_CERTS).unwrap();
    d
}

fn read_report(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON row"))
        .collect()
}

fn row_for(rows: &[Value], port: u16, sni: Option<&str>) -> Value {
    rows.iter()
        .find(|r| r["port"] == port && r["sni"].as_str() == sni)
        .unwrap_or_else(|| panic!("no report row for port {port} sni {sni:?} in {rows:#?}"))
        .clone()
}

fn leaf_sha256(row: &Value) -> &str {
    row["tls"]["chain"][0]["sha256"].as_str().unwrap_or("")
}

/// Quick-running refresh flags: short timeouts, no retries, no rate limit.
const FAST: [&str; 8] = [
    "--timeout",
    "1",
    "--connect-timeout",
    "1",
    "--retries",
    "0",
    "--per-host-interval",
    "0",
];

fn refresh(feeds: &Path, endpoints: &Path, report: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "feed",
        "--feeds",
        s(feeds),
        "refresh",
        "--endpoints",
        s(endpoints),
        "-o",
        s(report),
    ];
    // The fast defaults, unless the test sets the flag itself.
    for pair in FAST.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend(pair);
        }
    }
    args.extend(extra);
    let run = poolscope(&args);
    assert_eq!(run.code, 0, "refresh failed: {}", run.stderr);
    run
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn refresh_records_each_chain_as_openssl_sees_it() {
    let pki = Pki::new();
    pki.self_signed("self", "self.pool.test", 0);
    pki.ca();
    pki.leaf("leaf", "chain.pool.test", 0);
    pki.leaf("big", "big.pool.test", 1500);
    pki.expired("old", "expired.pool.test");
    let chain = pki.chain_file("chain.pem", &["int"]);
    let big_chain = pki.chain_file("big-chain.pem", &["int", "ca"]);
    let d = pki.dir.path();
    let self_signed = SServer::start(d, &["-cert", "self.pem", "-key", "self.key"]);
    let with_chain = SServer::start(
        d,
        &[
            "-tls1_2",
            "-cert",
            "leaf.pem",
            "-key",
            "leaf.key",
            "-cert_chain",
            s(&chain),
        ],
    );
    let expired = SServer::start(d, &["-cert", "old.pem", "-key", "old.key"]);
    let big = SServer::start(
        d,
        &[
            "-cert",
            "big.pem",
            "-key",
            "big.key",
            "-cert_chain",
            s(&big_chain),
        ],
    );

    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(
        work.path(),
        &[
            (self_signed.port, ""),
            (with_chain.port, ""),
            (expired.port, ""),
            (big.port, ""),
        ],
    );
    let report = work.path().join("report.ndjson");
    let run = refresh(feeds.path(), &eps, &report, &[]);
    let rows = read_report(&report);
    assert_eq!(rows.len(), 4, "{}", run.stderr);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:#}");
        assert_eq!(r["address"], "127.0.0.1");
        assert_eq!(r["address_from"], "feed");
        assert_eq!(r["tls"]["complete"], true);
        assert!(
            r["tls"]["ja3s"].as_str().is_some_and(|j| j.len() == 32),
            "{r:#}"
        );
        assert!(r["tls"]["ja4s"].as_str().is_some(), "{r:#}");
        assert_eq!(r["feed"]["cert"], "new");
        assert_eq!(r["feed"]["endpoint"], "first");
    }

    let r = row_for(&rows, self_signed.port, None);
    assert_eq!(leaf_sha256(&r), pki.sha256("self"));
    assert_eq!(r["tls"]["chain"][0]["spki_sha256"], pki.spki_sha256("self"));
    assert_eq!(r["tls"]["chain"][0]["self_signed"], true);
    assert_eq!(r["tls"]["chain"][0]["subject"], "CN=self.pool.test");
    assert_eq!(
        r["tls"]["chain"][0]["san"],
        serde_json::json!(["self.pool.test"])
    );
    assert_eq!(r["tls"]["chain"][0]["expired"], false);
    assert_eq!(r["tls"]["version"], "1.3");
    assert!(r["tls"]["ja4s"].as_str().unwrap().starts_with("t13"));
    assert_eq!(r["tls"]["signature"], "verified");
    assert_eq!(r["tls"]["alpn"], Value::Null, "the probe offers no ALPN");

    let r = row_for(&rows, with_chain.port, None);
    let chain = r["tls"]["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "leaf and intermediate");
    assert_eq!(chain[0]["sha256"], pki.sha256("leaf"));
    assert_eq!(chain[1]["sha256"], pki.sha256("int"));
    assert_eq!(chain[0]["issuer"], "CN=Probe Test Intermediate");
    assert_eq!(chain[0]["self_signed"], false);
    assert_eq!(chain[1]["subject"], "CN=Probe Test Intermediate");
    assert_eq!(r["tls"]["version"], "1.2");
    assert!(r["tls"]["ja4s"].as_str().unwrap().starts_with("t12"));
    assert!(r["tls"]["cipher"]
        .as_str()
        .unwrap()
        .starts_with("TLS_ECDHE_ECDSA_WITH"));

    let r = row_for(&rows, expired.port, None);
    assert_eq!(leaf_sha256(&r), pki.sha256("old"));
    let leaf = &r["tls"]["chain"][0];
    assert_eq!(leaf["expired"], true);
    assert_eq!(leaf["not_before"], "2020-01-01T00:00:00Z");
    assert_eq!(leaf["not_after"], "2020-02-01T00:00:00Z");

    let r = row_for(&rows, big.port, None);
    let chain = r["tls"]["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[0]["sha256"], pki.sha256("big"));
    assert_eq!(chain[2]["sha256"], pki.sha256("ca"));
    assert_eq!(chain[0]["san"].as_array().unwrap().len(), 1501);
    assert!(chain[0]["der_len"].as_u64().unwrap() > 20_000);

    // The feed: the foreign row kept as it was, one refresh row per leaf, loadable, matchable.
    let text = std::fs::read_to_string(feeds.path().join("pool-certs.tsv")).unwrap();
    assert!(text.starts_with(FOREIGN_CERTS), "{text}");
    let feed = poolscope::intel::PoolFeed::load(feeds.path()).unwrap();
    let refreshed: Vec<_> = feed
        .certs
        .iter()
        .filter(|c| c.provenance.source == "refresh")
        .collect();
    assert_eq!(refreshed.len(), 4);
    let mine = refreshed
        .iter()
        .find(|c| c.sha256.as_deref() == Some(&pki.sha256("leaf")[..]))
        .unwrap();
    assert_eq!(
        mine.spki_sha256.as_deref(),
        Some(&pki.spki_sha256("leaf")[..])
    );
    assert_eq!(mine.note, format!("served=127.0.0.1:{}", with_chain.port));
    assert_eq!(mine.first_seen, mine.last_seen);
    let check = poolscope(&[
        "feed",
        "--feeds",
        s(feeds.path()),
        "check",
        &pki.sha256("self"),
    ]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stdout.contains("refresh"), "{}", check.stdout);
    assert!(run.stderr.contains("4 new"), "{}", run.stderr);
    let leftovers: Vec<_> = std::fs::read_dir(feeds.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn refresh_reports_every_failure_with_its_reason_and_finishes() {
    let pki = Pki::new();
    pki.self_signed("good", "good.pool.test", 0);
    pki.self_signed("huge", "huge.test", 4000);
    let d = pki.dir.path();
    let good = SServer::start(d, &["-cert", "good.pem", "-key", "good.key"]);
    let huge = SServer::start(d, &["-cert", "huge.pem", "-key", "huge.key"]);
    let tls10 = SServer::start(
        d,
        &[
            "-tls1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-cert",
            "good.pem",
            "-key",
            "good.key",
        ],
    );
    let banner = plain_stub(Stub::Banner);
    let http = plain_stub(Stub::Http);
    let reset = plain_stub(Stub::ResetMidHandshake);
    let silent = silent_port();
    let silent_port = silent.local_addr().unwrap().port();
    let refused = refused_port();

    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(
        work.path(),
        &[
            (good.port, ""),
            (huge.port, ""),
            (tls10.port, ""),
            (banner.port, ""),
            (http.port, ""),
            (reset.port, ""),
            (silent_port, ""),
            (refused, ""),
        ],
    );
    let report = work.path().join("report.ndjson");
    let run = refresh(feeds.path(), &eps, &report, &[]);
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
    let rows = read_report(&report);
    assert_eq!(rows.len(), 8);
    let expect: &[(u16, &str, &str, &str)] = &[
        (good.port, "ok", "", ""),
        (huge.port, "handshake", "handshake", "64 KiB"),
        (tls10.port, "handshake", "handshake", "TLS 1.2 and 1.3 only"),
        (
            banner.port,
            "not-tls",
            "handshake",
            "220 mail.test ESMTP ready",
        ),
        (
            http.port,
            "handshake",
            "handshake",
            "without answering the ClientHello",
        ),
        (reset.port, "reset", "handshake", "reset"),
        (silent_port, "timeout", "handshake", "timeout"),
        (refused, "refused", "connect", "refused"),
    ];
    for (port, status, phase, words) in expect {
        let r = row_for(&rows, *port, None);
        assert_eq!(r["status"], *status, "{r:#}");
        if *status != "ok" {
            assert_eq!(r["error"]["kind"], *status, "{r:#}");
            assert_eq!(r["error"]["phase"], *phase, "{r:#}");
            let msg = r["error"]["message"].as_str().unwrap();
            assert!(msg.contains(words), "port {port}: {msg:?} lacks {words:?}");
            assert!(r["feed"].is_null());
            let line = format!("refresh: failed: 127.0.0.1:{port} 127.0.0.1: {status} ({phase})");
            assert!(
                run.stderr.contains(&line),
                "{line:?} not in:\n{}",
                run.stderr
            );
        }
    }
    // The reset came after the server's first bytes: the half record was seen.
    let r = row_for(&rows, reset.port, None);
    assert_eq!(r["attempts"], 1);
    assert!(run.stderr.contains("1 ok, 7 failed"), "{}", run.stderr);
    let feed = poolscope::intel::PoolFeed::load(feeds.path()).unwrap();
    assert_eq!(
        feed.certs
            .iter()
            .filter(|c| c.provenance.source == "refresh")
            .count(),
        1,
        "failures add nothing to the feed"
    );
}

#[test]
fn refresh_retries_transient_failures_with_backoff() {
    let reset = plain_stub(Stub::ResetMidHandshake);
    let silent = silent_port();
    let silent_port = silent.local_addr().unwrap().port();
    let refused = refused_port();
    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(
        work.path(),
        &[(reset.port, ""), (silent_port, ""), (refused, "")],
    );
    let report = work.path().join("report.ndjson");
    refresh(
        feeds.path(),
        &eps,
        &report,
        &["--retries", "2", "--backoff", "0.05", "--timeout", "0.3"],
    );
    let rows = read_report(&report);
    assert_eq!(row_for(&rows, reset.port, None)["attempts"], 3);
    assert_eq!(reset.connections(), 3, "one connection per attempt");
    assert_eq!(row_for(&rows, silent_port, None)["attempts"], 3);
    assert_eq!(
        row_for(&rows, refused, None)["attempts"],
        1,
        "a refusal is an answer: no retry"
    );
}

#[test]
fn each_sni_gets_its_own_certificate() {
    let pki = Pki::new();
    for n in ["a", "b", "c", "d"] {
        pki.self_signed(n, &format!("pool-{n}.test"), 0);
    }
    // openssl: pool-b.test gets b, everything else (and no SNI) gets a.
    let ossl = SServer::start(
        pki.dir.path(),
        &[
            "-cert",
            "a.pem",
            "-key",
            "a.key",
            "-servername",
            "pool-b.test",
            "-cert2",
            "b.pem",
            "-key2",
            "b.key",
        ],
    );
    // rustls: c and d by name, no certificate without SNI.
    let certs = Arc::new(SniCerts::default());
    for n in ["c", "d"] {
        certs
            .by_name
            .lock()
            .unwrap()
            .insert(format!("pool-{n}.test"), pki.certified(n, &[]));
    }
    let rl = rustls_server(certs, None);

    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(
        work.path(),
        &[
            (ossl.port, "pool-a.test"),
            (ossl.port, "pool-b.test"),
            (ossl.port, ""),
            (rl.port, "pool-c.test"),
            (rl.port, "pool-d.test"),
            (rl.port, ""),
        ],
    );
    let report = work.path().join("report.ndjson");
    // Names are only sent as SNI: nothing is resolved.
    refresh(feeds.path(), &eps, &report, &["--no-resolve"]);
    let rows = read_report(&report);
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["address_from"] == "feed"));
    let cases = [
        (ossl.port, Some("pool-a.test"), "a"),
        (ossl.port, Some("pool-b.test"), "b"),
        (ossl.port, None, "a"),
        (rl.port, Some("pool-c.test"), "c"),
        (rl.port, Some("pool-d.test"), "d"),
    ];
    for (port, sni, cert) in cases {
        let r = row_for(&rows, port, sni);
        assert_eq!(r["status"], "ok", "{r:#}");
        assert_eq!(leaf_sha256(&r), pki.sha256(cert), "{sni:?}");
    }
    let r = row_for(&rows, rl.port, None);
    assert_eq!(r["status"], "handshake");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("alert"),
        "{r:#}"
    );
    // Two names on one address are two endpoints in the history.
    let feed = poolscope::intel::PoolFeed::load(feeds.path()).unwrap();
    let a = feed
        .certs
        .iter()
        .find(|c| c.sha256.as_deref() == Some(&pki.sha256("a")[..]))
        .unwrap();
    assert_eq!(
        a.note,
        format!(
            "served=pool-a.test:{p}@127.0.0.1,127.0.0.1:{p}",
            p = ossl.port
        )
    );
}

#[test]
fn refresh_keeps_history_and_reports_rotation() {
    let pki = Pki::new();
    pki.self_signed("one", "rot.pool.test", 0);
    pki.self_signed("two", "rot.pool.test", 0);
    let (one, two) = (pki.sha256("one"), pki.sha256("two"));
    let certs = Arc::new(SniCerts::default());
    certs.set_default(Some(pki.certified("one", &[])));
    let server = rustls_server(certs.clone(), None);

    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(work.path(), &[(server.port, "rot.pool.test")]);
    let report = work.path().join("report.ndjson");
    let key = format!("rot.pool.test:{}@127.0.0.1", server.port);
    let certs_file = feeds.path().join("pool-certs.tsv");
    let pass = |date: &str, extra: &[&str]| {
        let mut args = vec!["--no-resolve", "--date", date];
        args.extend(extra);
        let run = refresh(feeds.path(), &eps, &report, &args);
        let rows = read_report(&report);
        assert_eq!(rows.len(), 1, "{}", run.stderr);
        (run, rows[0]["feed"].clone())
    };

    let (_, f) = pass("2026-01-01", &[]);
    assert_eq!(
        (f["cert"].as_str(), f["endpoint"].as_str()),
        (Some("new"), Some("first"))
    );

    certs.set_default(Some(pki.certified("two", &[])));
    let (run, f) = pass("2026-02-01", &[]);
    assert_eq!(f["endpoint"], "rotated", "{f:#}");
    assert_eq!(f["previous_sha256"], one.as_str());
    assert_eq!(f["sha256"], two.as_str());
    let line = format!("refresh: rotated: {key}: {} -> {}", &one[..16], &two[..16]);
    assert!(
        run.stderr.contains(&line),
        "{line:?} not in\n{}",
        run.stderr
    );

    let (_, f) = pass("2026-03-01", &[]);
    assert_eq!(
        (f["cert"].as_str(), f["endpoint"].as_str()),
        (Some("known"), Some("same"))
    );

    // A dry run reports the rotation back to the first certificate but writes nothing.
    certs.set_default(Some(pki.certified("one", &[])));
    let before = std::fs::read_to_string(&certs_file).unwrap();
    let (run, f) = pass("2026-04-01", &["--dry-run"]);
    assert_eq!(f["endpoint"], "rotated");
    assert!(
        run.stderr.contains("dry run: not written"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&certs_file).unwrap(), before);

    let text = std::fs::read_to_string(&certs_file).unwrap();
    assert!(text.starts_with(FOREIGN_CERTS));
    let feed = poolscope::intel::PoolFeed::load(feeds.path()).unwrap();
    let row = |sha: &str| {
        feed.certs
            .iter()
            .find(|c| c.sha256.as_deref() == Some(sha))
            .unwrap()
            .clone()
    };
    let (r1, r2) = (row(&one), row(&two));
    assert_eq!(
        (r1.first_seen.as_str(), r1.last_seen.as_str()),
        ("2026-01-01", "2026-01-01")
    );
    assert_eq!(r1.note, format!("formerly={key}"));
    assert_eq!(
        (r2.first_seen.as_str(), r2.last_seen.as_str()),
        ("2026-02-01", "2026-03-01")
    );
    assert_eq!(r2.note, format!("served={key}"));
    assert_eq!(feed.duplicates, 0);
    let check = poolscope(&["feed", "--feeds", s(feeds.path()), "check", &two]);
    assert_eq!(check.code, 0);
    assert!(
        check.stdout.contains("refresh 2026-03-01"),
        "{}",
        check.stdout
    );
}

#[test]
fn confirm_stratum_tells_pools_from_other_servers() {
    let pki = Pki::new();
    pki.self_signed("pool", "tls.pool.test", 0);
    let certs = Arc::new(SniCerts::default());
    certs.set_default(Some(pki.certified("pool", &[])));
    let tls_pool = rustls_server(certs, Some(Stub::Monero));
    let monero = plain_stub(Stub::Monero);
    let bitcoin = plain_stub(Stub::BitcoinOnly);
    let http = plain_stub(Stub::Http);
    let tls_not_pool = SServer::start(pki.dir.path(), &["-cert", "pool.pem", "-key", "pool.key"]);

    let work = tempfile::tempdir().unwrap();
    let feeds = feeds_dir();
    let eps = endpoints_file(
        work.path(),
        &[
            (tls_pool.port, ""),
            (monero.port, ""),
            (bitcoin.port, ""),
            (http.port, ""),
            (tls_not_pool.port, ""),
        ],
    );
    let report = work.path().join("report.ndjson");
    let run = refresh(feeds.path(), &eps, &report, &["--confirm-stratum"]);
    let rows = read_report(&report);
    // (port, answers like a pool, where Stratum was spoken, (request, reply) in order)
    type Case<'a> = (u16, bool, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (tls_pool.port, true, "tls", &[("monero", "job")]),
        (monero.port, true, "plain", &[("monero", "job")]),
        (
            bitcoin.port,
            true,
            "plain",
            &[("monero", "closed"), ("bitcoin", "subscription")],
        ),
        (
            http.port,
            false,
            "plain",
            &[("monero", "not-json-rpc"), ("bitcoin", "not-json-rpc")],
        ),
        (
            tls_not_pool.port,
            false,
            "tls",
            &[("monero", "no-reply"), ("bitcoin", "no-reply")],
        ),
    ];
    for (port, pool_like, transport, tries) in cases {
        let r = row_for(&rows, *port, None);
        let st = &r["stratum"];
        assert_eq!(st["pool_like"], *pool_like, "{r:#}");
        assert_eq!(st["transport"], *transport, "{r:#}");
        let got: Vec<(&str, &str)> = st["tries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["dialect"].as_str().unwrap(), t["reply"].as_str().unwrap()))
            .collect();
        assert_eq!(&got, tries, "port {port}");
    }
    let b = row_for(&rows, bitcoin.port, None);
    assert_eq!(
        b["stratum"]["tries"][1]["notifications"],
        serde_json::json!(["mining.set_difficulty"])
    );
    // The plaintext pools failed the TLS handshake first, and the report says so.
    assert_eq!(row_for(&rows, monero.port, None)["status"], "handshake");
    assert_eq!(row_for(&rows, tls_pool.port, None)["status"], "ok");
    assert!(
        run.stderr.contains("3 answer like a pool"),
        "{}",
        run.stderr
    );
}

#[test]
fn feed_probe_exit_codes_follow_the_answer() {
    let pki = Pki::new();
    pki.self_signed("pool", "tls.pool.test", 0);
    let certs = Arc::new(SniCerts::default());
    certs
        .by_name
        .lock()
        .unwrap()
        .insert("tls.pool.test".into(), pki.certified("pool", &[]));
    let tls_pool = rustls_server(certs, Some(Stub::Monero));
    let monero = plain_stub(Stub::Monero);
    let bitcoin = plain_stub(Stub::BitcoinOnly);
    let http = plain_stub(Stub::Http);
    let refused = refused_port();
    let fast = ["--timeout", "1", "--connect-timeout", "1", "--retries", "0"];
    let probe = |target: String, extra: &[&str]| {
        let mut args = vec!["feed".to_string(), "probe".into(), target];
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(fast.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        poolscope(&args)
    };
    let at = |p: u16| format!("127.0.0.1:{p}");

    let r = probe(at(monero.port), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("stratum over plain: monero -> job"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("answers like a pool\n"), "{}", r.stdout);

    let r = probe(at(bitcoin.port), &["--plain", "--dialect", "bitcoin"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("bitcoin -> subscription"), "{}", r.stdout);

    // With SNI the rustls pool finds its certificate; Stratum runs inside TLS.
    let r = probe(
        at(tls_pool.port),
        &["--tls", "--sni", "tls.pool.test", "--json"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["tls"]["chain"][0]["sha256"], pki.sha256("pool"));
    assert_eq!(v["stratum"]["transport"], "tls");
    assert_eq!(v["stratum"]["tries"][0]["reply"], "job");
    assert_eq!(v["sni"], "tls.pool.test");

    let r = probe(at(http.port), &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("does not answer like a pool"),
        "{}",
        r.stdout
    );

    let r = probe(at(refused), &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("refused"), "{}", r.stdout);
    assert!(r.stdout.contains("could not be reached"), "{}", r.stdout);

    // TLS only, against a plaintext pool: no conversation, a network error.
    let r = probe(at(monero.port), &["--tls"]);
    assert_eq!(r.code, 2, "{}", r.stdout);

    // Usage errors.
    for bad in [
        vec!["feed", "probe", "127.0.0.1"],
        vec!["feed", "probe", "127.0.0.1:1", "--tls", "--plain"],
        vec!["feed", "probe", "127.0.0.1:1", "--dialect", "eth"],
        vec!["feed", "probe", "127.0.0.1:1", "--timeout", "-1"],
    ] {
        let r = poolscope(&bad);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty());
    }
    let work = tempfile::tempdir().unwrap();
    let eps = endpoints_file(work.path(), &[(refused, "")]);
    let r = poolscope(&[
        "feed",
        "--feeds",
        s(work.path()),
        "refresh",
        "--endpoints",
        s(&eps),
        "--date",
        "2026-13-01",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("2026-13-01"), "{}", r.stderr);
}

#[test]
fn learn_adds_what_mining_flows_show() {
    let work = tempfile::tempdir().unwrap();
    let feeds = work.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds");
    for f in std::fs::read_dir(&shipped).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "tsv") {
            std::fs::copy(&f, feeds.join(f.file_name().unwrap())).unwrap();
        }
    }
    // Scored captures: mining.pcapng has four Stratum flows; cgminer.s0.pcapng has flows
    // called mining only because their addresses are listed, which teach nothing.
    let mut scored = Vec::new();
    for cap in ["mining.pcapng", "cgminer.s0.pcapng"] {
        let r = poolscope(&[
            "score",
            "--quiet",
            "--feeds",
            s(&feeds),
            "--min-verdict",
            "mining",
            s(&common::data(&format!("pcap/{cap}"))),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let path = work.path().join(format!("{cap}.ndjson"));
        std::fs::write(&path, r.stdout).unwrap();
        scored.push(path);
    }
    // A TLS flow called mining by its pool domain, as score writes it.
    let tls = work.path().join("tls.ndjson");
    std::fs::write(
        &tls,
        "{\"flow_id\":7,\"capture\":\"lab.pcap\",\"verdict\":\"mining\",\"score\":0.95,\
         \"reasons\":[\"feed:domain:nanopool.org (coinblockerlists 2018-06-06)\"],\
         \"evidence\":[{\"kind\":\"feed\",\"list\":\"domain\",\"field\":\"sni\",\
         \"observed\":\"xmr-eu2.nanopool.org\",\"value\":\"nanopool.org\",\
         \"source\":\"coinblockerlists\",\"strength\":\"mining\",\"effective\":true}],\
         \"dst_ip\":\"203.0.113.9\",\"dst_port\":443,\"sni\":\"xmr-eu2.nanopool.org\",\
         \"cert_sha1\":\"1111111111111111111111111111111111111111\",\
         \"cert_sha256\":\"2222222222222222222222222222222222222222222222222222222222222222\",\
         \"cert_subject\":\"CN=*.nanopool.org\",\"cert_issuer\":\"CN=R3, O=Let's Encrypt\",\
         \"first_seen\":1764115200.0,\"last_seen\":1764115260.0}\n",
    )
    .unwrap();
    scored.push(tls);
    // What should be learned, worked out from the scored records themselves: the servers of
    // flows called mining by a Stratum rule, and not those called mining by their address only.
    let mut teaching = std::collections::BTreeSet::new();
    let mut address_only = std::collections::BTreeSet::new();
    for path in &scored[..2] {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let ep = format!("{}:{}", v["dst_ip"].as_str().unwrap(), v["dst_port"]);
            let stratum = v["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("stratum:"));
            if stratum {
                teaching.insert(ep);
            } else {
                address_only.insert(ep);
            }
        }
    }
    assert!(teaching.contains("94.23.199.191:3333"), "{teaching:?}");
    assert!(
        address_only.contains("138.201.31.13:3333"),
        "{address_only:?}"
    );
    teaching.insert("203.0.113.9:443".to_string());

    let mut args = vec!["feed", "--feeds", s(&feeds), "learn"];
    args.extend(scored.iter().map(|p| s(p)));
    let r = poolscope(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let added = format!("pool-endpoints.tsv: {} added", teaching.len());
    assert!(r.stderr.contains(&added), "{added:?} not in {}", r.stderr);
    assert!(r.stderr.contains("pool-certs.tsv: 1 added"), "{}", r.stderr);
    assert!(
        r.stderr.contains("pool-domains.tsv: 1 added"),
        "{}",
        r.stderr
    );

    let feed = poolscope::intel::PoolFeed::load(&feeds).unwrap();
    let learned: std::collections::BTreeSet<String> = feed
        .endpoints
        .iter()
        .filter(|e| e.provenance.source == "learned")
        .map(|e| e.display_value())
        .collect();
    assert_eq!(learned, teaching);
    assert!(learned.is_disjoint(&address_only.difference(&teaching).cloned().collect()));
    let cert = feed
        .certs
        .iter()
        .find(|c| c.provenance.source == "learned")
        .unwrap();
    assert_eq!(
        cert.note,
        "learned from lab.pcap flow 7 (feed:domain:nanopool.org)"
    );
    assert_eq!(cert.first_seen, "2025-11-26");
    let from = std::fs::read_to_string(feeds.join("learned-from.tsv")).unwrap();
    let cap = s(&common::data("pcap/mining.pcapng")).to_string();
    // Flow 243: the flow opened by frame 243 of the capture (its SYN, as Wireshark numbers it).
    assert!(
        from.contains(&format!(
            "pool-endpoints.tsv\t94.23.199.191:3333\t{cap}\t243\tstratum:btc:mining.subscribe\t"
        )),
        "{from}"
    );
    let check = poolscope(&[
        "feed",
        "--feeds",
        s(&feeds),
        "check",
        "xmr-eu2.nanopool.org",
    ]);
    assert!(check.stdout.contains("learned"), "{}", check.stdout);

    // Again: nothing new.
    let r = poolscope(&args);
    assert_eq!(r.code, 0);
    let present = format!(
        "pool-endpoints.tsv: 0 added, {} already present",
        teaching.len()
    );
    assert!(r.stderr.contains(&present), "{}", r.stderr);
    assert!(
        r.stderr.contains("learned-from.tsv: 0 rows added"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// score --confirm

/// The lab's XMRig-over-TLS capture with its server port (3334) rewritten to `port`, so the
/// flow's server is a stub this test runs. Legacy pcap, Ethernet, IPv4, TCP: the ports sit at
/// fixed offsets; checksums are not checked by poolscope.
fn xmrig_tls_capture_to(port: u16, dir: &Path) -> PathBuf {
    let mut b = std::fs::read(common::data("pcap/xmrig-rx-tls.pcap")).unwrap();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = off + 16;
        let ip = frame + 14;
        if b.len() >= ip + 20 && b[frame + 12..frame + 14] == [0x08, 0x00] && b[ip + 9] == 6 {
            let tcp = ip + (b[ip] & 0x0f) as usize * 4;
            for at in [tcp, tcp + 2] {
                if u16::from_be_bytes([b[at], b[at + 1]]) == 3334 {
                    b[at..at + 2].copy_from_slice(&port.to_be_bytes());
                }
            }
        }
        off = frame + caplen;
    }
    let p = dir.join("xmrig-tls-rewritten.pcap");
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn score_confirm_turns_a_suspect_that_answers_like_a_pool_into_mining() {
    let dir = TempDir::new().unwrap();
    // Without --confirm the flow is only suspect: XMRig's TLS fingerprint is a weak hint. (The
    // flow-shape model is left out: it was trained on this capture and would settle it.)
    let pool = plain_stub(Stub::Monero);
    let cap = xmrig_tls_capture_to(pool.port, dir.path());
    let run = poolscope(&["score", "-q", "--no-model", s(&cap)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rec: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(rec["verdict"], "suspect", "{rec}");
    assert_eq!(pool.connections(), 0, "nothing is sent without --confirm");
    // With --confirm the server is probed and answers a Monero login with a job.
    let run = poolscope(&["score", "-q", "--no-model", "--confirm", s(&cap)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rec: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(rec["verdict"], "mining", "{rec}");
    let first = rec["reasons"][0].as_str().unwrap();
    assert!(first.starts_with("probe:pool:"), "{first}");
    assert!(pool.connections() >= 1);
    // A server that answers like a web server stays suspect, with the probe's reason.
    let web = plain_stub(Stub::Http);
    let cap = xmrig_tls_capture_to(web.port, dir.path());
    let run = poolscope(&["score", "-q", "--no-model", "--confirm", s(&cap)]);
    let rec: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(rec["verdict"], "suspect", "{rec}");
    assert!(
        rec["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("probe:not-pool"),
        "{rec}"
    );
}
