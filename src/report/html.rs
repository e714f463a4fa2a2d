//! The report page: one HTML file with everything inline (CSS, SVG charts drawn here, a
//! little JavaScript for the flow table, the data as JSON), and a Content-Security-Policy
//! that forbids the page any network access, so opening it never leaks a host or a pool name.

use super::{HostRow, ReportData, ScoreHistogram, SCORE_BINS};
use crate::score::Verdict;
use std::fmt::Write as _;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `#host=…` / `#pool=…` link target (percent-encoded for the URL fragment).
fn frag(kind: &str, value: &str) -> String {
    let mut out = format!("#{kind}=");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:[]".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-11-26 10:20:30` (UTC) of Unix seconds.
fn when(t: f64) -> String {
    crate::fingerprint::cert::iso8601_utc(t.floor() as i64)
        .map(|s| s.trim_end_matches('Z').replace('T', " "))
        .unwrap_or_else(|| format!("{t:.0}"))
}

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Mining => "#c0392b",
        Verdict::Suspect => "#e67e22",
        Verdict::Benign => "#7f8c8d",
    }
}

/// The data as JSON that is safe inside a `<script>` element: every `<` is written as its
/// JSON escape, so no `</script>` or `<!--` can appear.
pub fn data_json(data: &ReportData) -> String {
    serde_json::to_string(data)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
}

/// The whole page.
pub fn render(data: &ReportData) -> String {
    let mut h = String::with_capacity(64 * 1024 + data.flagged.len() * 200);
    let flagged_total = data.flagged.len() + data.flagged_not_listed;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>poolscope report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>poolscope report</h1><p>{} flagged flows from {} hosts, {} flows read</p>\
         </header>\n",
        flagged_total,
        data.hosts.len() + data.hosts_not_listed,
        data.flows
    );
    run_section(&mut h, data);
    timeline_section(&mut h, &data.hosts, data.hosts_not_listed);
    pools_section(&mut h, data);
    histogram_section(&mut h, &data.histogram);
    flows_section(&mut h, data);
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"report-data\">{}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        data_json(data)
    );
    h
}

fn run_section(h: &mut String, d: &ReportData) {
    let r = &d.run;
    h.push_str("<section id=\"run\"><h2>The run</h2><table class=\"kv\">\n");
    let row = |h: &mut String, k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    row(
        h,
        "Inputs",
        r.inputs
            .iter()
            .map(|i| esc(i))
            .collect::<Vec<_>>()
            .join("<br>"),
    );
    row(
        h,
        "Time span (UTC)",
        match d.span {
            Some((a, b)) => format!("{} to {}", when(a), when(b)),
            None => "no timed flows".into(),
        },
    );
    row(h, "Flows", format!("{} ({} packets)", d.flows, d.packets));
    let count = |v: &str| d.verdicts.get(v).copied().unwrap_or(0);
    row(
        h,
        "Verdicts",
        format!(
            "<span class=\"v mining\">mining {}</span> <span class=\"v suspect\">suspect {}</span> \
             <span class=\"v benign\">benign {}</span>",
            count("mining"),
            count("suspect"),
            count("benign")
        ),
    );
    row(
        h,
        "Feeds",
        match &r.feeds {
            Some(f) => esc(&format!(
                "{} ({} rows, newest row {})",
                f.location, f.rows, f.newest
            )),
            None => esc("not recorded (flows scored elsewhere, or without feeds)"),
        },
    );
    row(
        h,
        "Models",
        if r.models.is_empty() {
            esc("not recorded (flows scored elsewhere, or without a model)")
        } else {
            r.models
                .iter()
                .map(|m| {
                    esc(&format!(
                        "{} ({}, poolscope {}, trained on {} flows; suspect from P={:.2}, mining from P={:.2})",
                        m.location, m.schema, m.version, m.trained_flows, m.suspect_at, m.mining_at
                    ))
                })
                .collect::<Vec<_>>()
                .join("<br>")
        },
    );
    row(h, "Scored", esc(&r.scored));
    h.push_str("</table></section>\n");
}

/// One row per flagged host, its flagged flows as bars along time coloured by verdict.
fn timeline_section(h: &mut String, hosts: &[HostRow], not_listed: usize) {
    h.push_str("<section id=\"timeline\"><h2>Hosts that mined or were suspect</h2>\n");
    if hosts.is_empty() {
        h.push_str("<p class=\"empty\">No flagged host.</p></section>\n");
        return;
    }
    let shown = hosts;
    let t0 = shown.iter().map(|r| r.first_seen).fold(f64::MAX, f64::min);
    let t1 = shown.iter().map(|r| r.last_seen).fold(f64::MIN, f64::max);
    let t1 = if t1 - t0 < 1.0 { t0 + 1.0 } else { t1 };
    let (label_w, plot_w, row_h, top) = (190.0, 860.0, 20.0, 28.0);
    let width = label_w + plot_w + 20.0;
    let height = top + row_h * shown.len() as f64 + 8.0;
    let x = |t: f64| label_w + (t - t0) / (t1 - t0) * plot_w;
    let _ = writeln!(
        h,
        "<svg class=\"timeline\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" aria-label=\"flagged flows per host along time\">"
    );
    // Axis: five ticks with their UTC times.
    for i in 0..=4 {
        let t = t0 + (t1 - t0) * i as f64 / 4.0;
        let xi = x(t);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            h,
            "<line class=\"tick\" x1=\"{xi:.1}\" y1=\"{:.1}\" x2=\"{xi:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{xi:.1}\" y=\"14\" text-anchor=\"{anchor}\">{}</text>",
            top - 6.0,
            height - 4.0,
            esc(&when(t))
        );
    }
    for (i, r) in shown.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            h,
            "<g class=\"host-row\" data-host=\"{}\"><a href=\"{}\"><text class=\"label\" x=\"4\" \
             y=\"{:.1}\">{}</text></a><title>{}: {} mining, {} suspect flows, {} to {}</title>",
            esc(&r.host),
            esc(&frag("host", &r.host)),
            y + 14.0,
            esc(&r.host),
            esc(&r.host),
            r.mining_flows,
            r.suspect_flows,
            esc(&when(r.first_seen)),
            esc(&when(r.last_seen)),
        );
        // Suspect spans first, mining drawn over them.
        for (a, b, v) in &r.spans {
            let (xa, xb) = (x(*a), x(*b));
            let _ = write!(
                h,
                "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                y + 4.0,
                (xb - xa).max(2.0),
                row_h - 8.0,
                colour(*v)
            );
        }
        h.push_str("</g>\n");
    }
    h.push_str("</svg>\n");
    if not_listed > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{not_listed} more hosts not drawn (fewest flagged flows); their \
             flows are in the table.</p>"
        );
    }
    h.push_str(
        "<p class=\"legend\"><span class=\"v mining\">mining</span> \
         <span class=\"v suspect\">suspect</span> A host's name filters the table to its flows.</p>\
         </section>\n",
    );
}

fn pools_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"pools\"><h2>Top pools</h2>\n");
    if d.pools.is_empty() {
        h.push_str("<p class=\"empty\">No flagged flow.</p></section>\n");
        return;
    }
    h.push_str(
        "<table class=\"grid\"><thead><tr><th>Pool (name or address)</th><th>Verdict</th>\
         <th>Flows</th><th>Hosts</th><th>Servers</th><th>Certificates (SHA-256)</th>\
         <th>Named by</th><th>First and last seen (UTC)</th></tr></thead><tbody>\n",
    );
    for p in &d.pools {
        let list = |v: &[String]| v.iter().map(|s| esc(s)).collect::<Vec<_>>().join("<br>");
        let _ = writeln!(
            h,
            "<tr class=\"{v}\"><td><a href=\"{}\">{}</a></td><td><span class=\"v {v}\">{v}</span></td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"hash\">{}</td><td class=\"reasons\">{}</td>\
             <td>{}<br>{}</td></tr>",
            esc(&frag("pool", &p.pool)),
            esc(&p.pool),
            p.flows,
            p.hosts,
            list(&p.servers),
            list(&p.certs),
            list(&p.named_by),
            esc(&when(p.first_seen)),
            esc(&when(p.last_seen)),
            v = p.verdict.as_str(),
        );
    }
    h.push_str("</tbody></table>\n");
    if d.pools_not_listed > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more pools not listed.</p>",
            d.pools_not_listed
        );
    }
    h.push_str("</section>\n");
}

/// Bars of the model's probability (log-scaled counts: benign flows dwarf the rest), with
/// the thresholds drawn where the verdict changes.
fn histogram_section(h: &mut String, hist: &ScoreHistogram) {
    h.push_str("<section id=\"scores\"><h2>Model scores</h2>\n");
    if hist.judged == 0 {
        h.push_str("<p class=\"empty\">The model judged no flow.</p></section>\n");
        return;
    }
    let (left, w, ht, top) = (50.0, 600.0, 180.0, 20.0);
    let bar = w / SCORE_BINS as f64;
    let max = hist.bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    let scale = |n: usize| (1.0 + n as f64).log10() / (1.0 + max).log10() * ht;
    let _ = writeln!(
        h,
        "<svg class=\"histogram\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" \
         aria-label=\"distribution of the model's probability\">",
        left + w + 20.0,
        top + ht + 40.0,
        left + w + 20.0,
        top + ht + 40.0
    );
    for (i, n) in hist.bins.iter().enumerate() {
        let bh = scale(*n);
        let lo = i as f64 / SCORE_BINS as f64;
        let _ = writeln!(
            h,
            "<rect class=\"bin\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\">\
             <title>P {lo:.2} to {:.2}: {n} flows</title></rect>",
            left + i as f64 * bar + 1.0,
            top + ht - bh,
            bar - 2.0,
            lo + 1.0 / SCORE_BINS as f64,
        );
    }
    let _ = writeln!(
        h,
        "<line class=\"axisline\" x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>\
         <text class=\"axis\" x=\"{left}\" y=\"{2}\" text-anchor=\"start\">0</text>\
         <text class=\"axis\" x=\"{1}\" y=\"{2}\" text-anchor=\"end\">1</text>\
         <text class=\"axis\" x=\"{3}\" y=\"{2}\" text-anchor=\"middle\">calibrated probability \
         (bar heights log-scaled; {4} flows judged, {5} most in one bar)</text>",
        top + ht,
        left + w,
        top + ht + 16.0,
        left + w / 2.0,
        hist.judged,
        max
    );
    for (name, p) in &hist.thresholds {
        let xp = left + p.clamp(0.0, 1.0) * w;
        let _ = writeln!(
            h,
            "<line class=\"threshold {name}\" x1=\"{xp:.1}\" y1=\"{top}\" x2=\"{xp:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis threshold-label\" x=\"{xp:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} {p:.2}</text>",
            top + ht,
            top - 6.0,
            esc(name)
        );
    }
    h.push_str("</svg></section>\n");
}

fn flows_section(h: &mut String, d: &ReportData) {
    let _ = write!(
        h,
        "<section id=\"flows\"><h2>Flagged flows</h2>\n<div class=\"controls\">\
         <input id=\"filter\" type=\"search\" placeholder=\"filter: host, server, name, reason…\">\
         <select id=\"verdict-filter\"><option value=\"\">mining and suspect</option>\
         <option value=\"mining\">mining</option><option value=\"suspect\">suspect</option></select>\
         <a id=\"clear\" href=\"#flows\">show all</a> <span id=\"status\"></span></div>\n\
         <table class=\"grid\" id=\"flow-table\" data-total=\"{}\"><thead><tr>\
         <th data-key=\"verdict\">Verdict</th><th data-key=\"score\">Score</th>\
         <th data-key=\"host\">Host</th><th data-key=\"pool\">Pool</th>\
         <th data-key=\"server\">Server</th><th data-key=\"first_seen\">First seen (UTC)</th>\
         <th data-key=\"duration\">Duration (s)</th><th data-key=\"packets\">Packets</th>\
         <th data-key=\"capture\">Capture#flow</th><th>Reasons</th></tr></thead><tbody></tbody></table>\n\
         <div class=\"pager\"><button id=\"prev\">previous</button> <span id=\"page\"></span> \
         <button id=\"next\">next</button></div>\n",
        d.flagged.len()
    );
    if d.flagged_not_listed > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more flagged flows are not listed: the page keeps the {} with \
             the highest scores.</p>",
            d.flagged_not_listed,
            d.flagged.len()
        );
    }
    h.push_str("</section>\n");
}
