//! Feeds any bytes, as lines of `score`'s NDJSON output, to the report: the row reader
//! (`FlowFacts::from_json`), the builder and the HTML page.
//!
//! Checks: no panic; the page holds exactly its own two scripts, whatever the names and
//! reasons in the rows; its embedded data parses back as JSON, with as many flagged rows as
//! the builder kept; every string index of the flagged table points into its strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::report::{html, FlowFacts, ReportBuilder, RunInfo};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A small limit, so that trimming the flagged flows is exercised too.
    let mut b = ReportBuilder::with_limit(8);
    for line in text.lines() {
        if let Ok(serde_json::Value::Object(row)) = serde_json::from_str(line) {
            if let Ok(f) = FlowFacts::from_json(&row) {
                b.add(f);
            }
        }
    }
    let d = b.finish(RunInfo::default());
    let t = &d.flagged;
    assert!(t.len() <= 8);
    let n = t.strings.len() as u32;
    for col in [&t.host, &t.pool, &t.server, &t.capture] {
        assert_eq!(col.len(), t.len());
        assert!(col.iter().all(|i| *i < n));
    }
    assert!(t.reasons.iter().flatten().all(|i| *i < n));
    let page = html::render(&d);
    assert_eq!(page.matches("<script").count(), 2, "a script in the data got out");
    assert_eq!(page.matches("</script>").count(), 2);
    let open = "id=\"report-data\">";
    let start = page.find(open).unwrap() + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    let back: serde_json::Value = serde_json::from_str(&page[start..end]).expect("data is JSON");
    assert_eq!(back["flagged"]["verdict"].as_array().unwrap().len(), t.len());
});
