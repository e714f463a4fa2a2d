//! `poolscope report` end to end, opened in a real browser: headless Chromium (Debian's
//! `chromium`) loads the page from a file with every network request sent to a proxy this test
//! runs on loopback, so a request the page made would be seen; its console is read from
//! Chromium's log. The page must load with no console message and no request, draw one
//! timeline row per flagged host, and hold as many flagged flows as `score --min-verdict
//! suspect` writes. A screenshot of each page is kept under `$POOLSCOPE_ARTIFACTS` (default
//! `target/artifacts`) for CI to keep.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Flagged flows per page of the table (`report.js`).
const PAGE: usize = 100;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("the report tests need Chromium: apt-get install chromium");
}

/// Hosts Chromium itself calls in the background (clock, component updates, sign-in); a
/// request to any other host came from the page.
fn browser_own(host: &str) -> bool {
    [
        "google.com",
        "googleapis.com",
        "gstatic.com",
        "gvt1.com",
        "gvt2.com",
    ]
    .iter()
    .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// What the browser did with a page.
struct Opened {
    /// The DOM after the page's scripts ran.
    dom: String,
    /// Console messages the page produced.
    console: Vec<String>,
    /// Requests (first line) that did not come from Chromium's own services.
    requests: Vec<String>,
}

/// Opens `page` in headless Chromium with a loopback proxy for every request, and saves a
/// screenshot to `png` when given.
fn open(page: &Path, png: Option<&Path>) -> Opened {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let port = proxy.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let listener = {
        let (seen, done) = (seen.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                match proxy.accept() {
                    Ok((mut s, _)) => {
                        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                        let mut buf = [0u8; 512];
                        let n = s.read(&mut buf).unwrap_or(0);
                        let head = String::from_utf8_lossy(&buf[..n]);
                        seen.lock()
                            .unwrap()
                            .push(head.lines().next().unwrap_or("").to_string());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let run = |extra: &[String]| {
        let out = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1400,2400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
            .arg("--proxy-bypass-list=<-loopback>")
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(
            out.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let out = run(&["--dump-dom".to_string()]);
    if let Some(png) = png {
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        run(&[format!("--screenshot={}", png.display())]);
        assert!(png.exists(), "no screenshot at {}", png.display());
    }
    done.store(true, Ordering::Relaxed);
    listener.join().unwrap();
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let requests = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|line| {
            // `GET http://host/path HTTP/1.1` or `CONNECT host:443 HTTP/1.1`.
            let target = line.split_whitespace().nth(1).unwrap_or("");
            let host = target
                .trim_start_matches("http://")
                .split(['/', ':'])
                .next()
                .unwrap_or("");
            !browser_own(host)
        })
        .cloned()
        .collect();
    Opened {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requests,
    }
}

fn artifacts() -> PathBuf {
    std::env::var_os("POOLSCOPE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts"))
}

fn run_ok(args: &[&str]) -> String {
    let out = poolscope(args);
    assert!(
        out.status.success(),
        "poolscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The part of the DOM between `from` and the next `until`.
fn between<'a>(dom: &'a str, from: &str, until: &str) -> &'a str {
    let start = dom
        .find(from)
        .unwrap_or_else(|| panic!("no {from:?} in the page"));
    let rest = &dom[start..];
    &rest[..rest.find(until).unwrap_or(rest.len())]
}

/// Scores `inputs` with `--min-verdict suspect`, writes their report, opens it, and checks the
/// page against what `score` wrote.
fn check_report(inputs: &[&Path], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec!["score", "-q", "--min-verdict", "suspect"];
    args.extend(&paths);
    let flagged: Vec<Value> = run_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hosts: BTreeSet<&str> = flagged
        .iter()
        .map(|r| r["src_ip"].as_str().unwrap())
        .collect();
    assert!(!flagged.is_empty());
    let page = dir.path().join("report.html");
    let mut args = vec!["report", "-q", "-o", page.to_str().unwrap()];
    args.extend(&paths);
    run_ok(&args);
    let seen = open(&page, Some(&artifacts().join(format!("report-{name}.png"))));
    assert!(seen.console.is_empty(), "console: {:?}", seen.console);
    assert!(seen.requests.is_empty(), "requests: {:?}", seen.requests);
    let dom = &seen.dom;
    // The timeline: one row per flagged host, each named.
    let timeline = between(dom, "<svg class=\"timeline\"", "</svg>");
    assert_eq!(timeline.matches("class=\"host-row\"").count(), hosts.len());
    for h in &hosts {
        assert!(timeline.contains(&format!("data-host=\"{h}\"")), "{h}");
    }
    // The table holds every flagged flow; the first page of them is drawn.
    let table = between(dom, "<table class=\"grid\" id=\"flow-table\"", "</table>");
    let n = flagged.len();
    assert!(
        table.contains(&format!("data-total=\"{n}\"")),
        "{table:.300}"
    );
    assert!(
        table.contains(&format!("data-shown=\"{n}\"")),
        "{table:.300}"
    );
    let drawn = table.matches("<tr class=\"mining\"").count()
        + table.matches("<tr class=\"suspect\"").count();
    assert_eq!(drawn, n.min(PAGE));
    let status = between(dom, "<span id=\"status\">", "</span>");
    assert!(
        status.contains(&format!("{n} of {n} flagged flows")),
        "{status}"
    );
}

#[test]
fn report_of_the_shipped_sample_opens_offline_in_chromium() {
    check_report(
        &[
            &data("pcap/mining.pcapng"),
            &data("pcap/xmrig-rx-tls.pcap"),
            &data("pcap/benign-mqtt-heartbeat.pcap"),
        ],
        "sample",
    );
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn report_of_a_corpus_capture_opens_offline_in_chromium() {
    // 376 flagged flows: four pages of the table.
    let root = corpus();
    check_report(
        &[&root.join("nesfit-cryptomining/pcap/cgminer.s0.pcapng")],
        "cgminer-s0",
    );
}

/// The checks above can fail: a page that logs to the console and loads an image is caught.
#[test]
fn the_browser_check_sees_console_messages_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><script>console.log('hello'); missing();</script>\
         <img src=\"http://pool.invalid/x.png\"></body></html>",
    )
    .unwrap();
    let seen = open(&page, None);
    assert_eq!(seen.console.len(), 2, "{:?}", seen.console);
    assert!(seen.console[1].contains("Uncaught ReferenceError"));
    assert_eq!(seen.requests.len(), 1, "{:?}", seen.requests);
    assert!(seen.requests[0].contains("pool.invalid"));
}

/// The data behind the page of one capture, as JSON (the analyst's paths and the machine's
/// feed and model locations left out), against its golden file.
fn page_data(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"report-data\">";
    let json = between(html, open, "</script>");
    let mut v: Value = serde_json::from_str(&json[open.len()..]).unwrap();
    if let Some(f) = v["run"]["feeds"].as_object_mut() {
        f.insert("location".into(), "(feeds)".into());
    }
    for m in v["run"]["models"].as_array_mut().into_iter().flatten() {
        m["location"] = "(model)".into();
    }
    v
}

#[test]
fn report_data_matches_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let cap = data("pcap/mining.pcapng");
    run_ok(&[
        "report",
        "-q",
        "-o",
        page.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    let now = serde_json::to_string_pretty(&page_data(&std::fs::read_to_string(&page).unwrap()))
        .unwrap()
        + "\n";
    check_golden(&data("golden/report-mining.pcapng.json"), &now);
}

/// `score`'s outputs read back (NDJSON, CSV, Parquet) give the page the same flows as the
/// capture scored by `report` itself, and `score --report` writes that page too.
#[test]
fn scored_outputs_read_back_give_the_same_page() {
    let dir = tempfile::tempdir().unwrap();
    let cap = data("pcap/mining.pcapng");
    let cap = cap.to_str().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let direct = p("direct.html");
    run_ok(&[
        "score",
        "-q",
        cap,
        "-o",
        &p("s.ndjson"),
        "--report",
        &direct,
    ]);
    run_ok(&["score", "-q", cap, "-o", &p("s.csv")]);
    run_ok(&["score", "-q", cap, "-o", &p("s.parquet")]);
    let want = page_data(&std::fs::read_to_string(&direct).unwrap());
    assert_eq!(want["run"]["scored"], "scored here");
    for scored in ["s.ndjson", "s.csv", "s.parquet"] {
        let out = p(&format!("{scored}.html"));
        run_ok(&["report", "-q", "-o", &out, &p(scored)]);
        let got = page_data(&std::fs::read_to_string(&out).unwrap());
        assert_eq!(got["run"]["scored"], "read from scored files");
        for key in [
            "flows", "packets", "span", "verdicts", "hosts", "pools", "flagged",
        ] {
            assert_eq!(got[key], want[key], "{scored}: {key}");
        }
    }
    // A scored file with a damaged line: the rest is reported, the line named, exit 1.
    let mut text = std::fs::read_to_string(p("s.ndjson")).unwrap();
    text.push_str("{not json\n");
    std::fs::write(p("bad.ndjson"), text).unwrap();
    let out = poolscope(&["report", "-o", &p("bad.html"), &p("bad.ndjson")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.ndjson:5: skipped"), "{err}");
    assert!(Path::new(&p("bad.html")).exists());
}
