//! Feeds the feed importers arbitrary text in every import format (hosts, domains, Adblock,
//! SSLBL SHA-1 and JA3, IP lists, mapped CSV/TSV, Maltrail trails, Sigma rules,
//! Suricata rules, MISP events, STIX 2.1 bundles) with input-chosen targets and options, and
//! the feed-file parser (`PoolFeed::parse_file`) the same text as each feed file.
//!
//! Checks:
//! * no panic; an error that names a line names one within the input (1 for empty input),
//!   and the file name it was given;
//! * importing (or parsing) the same text twice gives identical results;
//! * the report adds up: `accepted` is the number of entries, `skipped` the sum of the skips
//!   by reason, at most ten skips are quoted, each with a line within the input, in order;
//!   every line is counted (line formats: one outcome per line, or more for a hosts line
//!   naming several hosts or a rule line naming several);
//! * entries are distinct, carry the options' source, no feed line, a valid date, and belong
//!   to the chosen target (or, for an address in a host list, to the endpoint file; for a
//!   browser-mining rule, to the browser-mining file); pool-domain and endpoint rows carry
//!   the options' kind and begin with the options' note;
//! * line formats are line-local: importing two texts joined at a line boundary gives the
//!   entries of the first followed by the new entries of the second, and the counts add up;
//! * a successful import merged into an empty feeds directory loads back with the same
//!   values, sources and dates (now and then, as it touches the file system);
//! * MISP and STIX: records counted one a line, provenance taken from the file where it has
//!   any; and the text, read as a feed file, exported as a MISP event or STIX bundle and
//!   imported back, skips nothing and exports again to the same bytes.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::intel::feeds::{DomainKind, FeedEntry, FeedFile, PoolFeed};
use poolscope::intel::value::parse_date;
use poolscope::intel::{
    export, import_str, merge_into_dir, ExportFormat, ExportOptions, FeedError, ImportFormat,
    ImportOptions, Imported,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const NAME: &str = "fuzz-input.txt";

/// CSV column maps to try: feed column = input column.
const MAPS: [&[(&str, &str)]; 5] = [
    &[],
    &[("domain", "host")],
    &[("value", "ja3_md5"), ("client", "Listingreason")],
    &[("ip", "dst"), ("port", "dport")],
    &[("sha1", "SHA1"), ("first_seen", "Listingdate")],
];

/// Lines of `text` as the importers count them (`str::lines`), after a leading BOM.
fn line_count(text: &str) -> usize {
    text.strip_prefix('\u{feff}').unwrap_or(text).lines().count()
}

/// Physical lines (CSV records may span several).
fn physical_lines(text: &str) -> usize {
    text.split('\n').count()
}

fn check_error(e: &FeedError, max_line: usize) {
    if let FeedError::Line { path, line, .. } = e {
        assert_eq!(path, Path::new(NAME), "error names another file");
        assert!(
            (1..=max_line.max(1)).contains(line),
            "error names line {line} of {max_line}"
        );
    }
}

/// The identity of an entry that survives a write and a load: file, value, source and date.
fn ident(e: &FeedEntry) -> String {
    let value = match e {
        FeedEntry::PoolDomain(d) => format!("{}/{}", d.domain, d.kind.as_str()),
        FeedEntry::BrowserDomain(d) => d.domain.clone(),
        FeedEntry::Endpoint(p) => p.display_value(),
        FeedEntry::Cert(c) => format!("{:?}/{:?}/{:?}", c.sha1, c.sha256, c.spki_sha256),
        FeedEntry::Fingerprint(f) => format!("{}:{}", f.kind.as_str(), f.value),
        FeedEntry::Allow(a) => format!("{}:{}", a.value.kind(), a.value),
    };
    let p = e.provenance();
    let date = if matches!(e, FeedEntry::Cert(_)) { "" } else { &p.date };
    format!("{}|{value}|{}|{date}", e.file(), p.source)
}

fn check_import(format: ImportFormat, opts: &ImportOptions, text: &str, got: &Imported) {
    let target = opts.target.unwrap_or(format.default_target());
    // MISP and STIX records bring their own files, sources, kinds and notes.
    let exchange = matches!(format, ImportFormat::Misp | ImportFormat::Stix);
    let r = &got.report;
    assert_eq!(r.accepted, got.entries.len(), "accepted is not the number of entries");
    assert_eq!(r.skipped, r.skipped_by_reason.values().sum::<usize>(), "skips by reason");
    assert_eq!(r.first_skipped.len(), r.skipped.min(10), "quoted skips");
    let max_line = match format {
        ImportFormat::Csv => physical_lines(text),
        ImportFormat::Misp | ImportFormat::Stix => r.lines,
        _ => line_count(text),
    };
    let mut prev = 0;
    for (line, _) in &r.first_skipped {
        assert!((1..=max_line).contains(line), "skip quotes line {line} of {max_line}");
        assert!(*line >= prev, "skips quoted out of order");
        prev = *line;
    }
    let outcomes = r.accepted + r.duplicates + r.comments + r.skipped;
    match format {
        ImportFormat::Csv | ImportFormat::Misp | ImportFormat::Stix => {
            assert!(outcomes >= r.lines, "{outcomes} outcomes for {} records", r.lines)
        }
        // A hosts line may name several hosts, a rule several host matches.
        ImportFormat::Hosts | ImportFormat::Suricata | ImportFormat::Sigma => {
            assert_eq!(r.lines, line_count(text));
            assert!(outcomes >= r.lines, "{outcomes} outcomes for {} lines", r.lines);
        }
        _ => {
            assert_eq!(r.lines, line_count(text));
            assert_eq!(outcomes, r.lines, "{outcomes} outcomes for {} lines", r.lines);
        }
    }
    let mut seen = HashSet::new();
    for e in &got.entries {
        assert!(seen.insert(format!("{e:?}")), "entry twice: {e:?}");
        let p = e.provenance();
        assert_eq!(p.line, None, "an imported entry claims a feed line");
        assert!(parse_date(&p.date).is_ok(), "entry dated {:?}", p.date);
        assert!(!p.source.trim().is_empty(), "entry without a source");
        if exchange {
            assert_ne!(e.file(), FeedFile::Allowlist, "an allowlist entry from {format}");
            continue;
        }
        assert_eq!(p.source, opts.source.trim(), "entry from another source");
        let file = e.file();
        let endpoint_from_hosts = target == FeedFile::PoolDomains && file == FeedFile::PoolEndpoints;
        let browser_rule = format == ImportFormat::Suricata
            && target == FeedFile::PoolDomains
            && file == FeedFile::BrowserDomains;
        assert!(
            file == target || endpoint_from_hosts || browser_rule,
            "{file} entry for target {target}"
        );
        let kind_note = match e {
            FeedEntry::PoolDomain(d) => Some((d.kind, &d.note)),
            FeedEntry::Endpoint(p) if format != ImportFormat::Csv => Some((p.kind, &p.note)),
            _ => None,
        };
        if let (Some((kind, note)), false) = (kind_note, format == ImportFormat::Csv) {
            assert_eq!(kind, opts.domain_kind, "entry of another kind");
            if let Some(n) = &opts.note {
                assert!(note.starts_with(n.trim()), "note {note:?} lacks {n:?}");
            }
        }
    }
}

fn options(u: &mut Unstructured<'_>, format: ImportFormat) -> Result<ImportOptions> {
    let targets = format.targets();
    let mut opts = ImportOptions::new(
        *u.choose(&["fuzz", " fuzz ", "team-intel", ""])?,
        *u.choose(&["2024-05-06", "2024-05", "2024", "2024-13-01", "yesterday"])?,
    );
    opts.target = if u.arbitrary()? {
        None
    } else {
        Some(*u.choose(targets)?)
    };
    // Now and then a target the format cannot fill, which must be refused.
    if u.ratio(1, 16)? {
        opts.target = Some(*u.choose(&FeedFile::ALL)?);
    }
    opts.listing_reason = match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some("*".into()),
        2 => Some("botnet".into()),
        _ => Some(String::new()),
    };
    opts.domain_kind = *u.choose(&[
        DomainKind::Pool,
        DomainKind::CryptoRelated,
        DomainKind::MinerMalware,
    ])?;
    opts.note = match u.int_in_range(0..=2u8)? {
        0 => None,
        1 => Some("elf_coinminer".into()),
        _ => Some(" ticket 42 ".into()),
    };
    opts.exact_hosts = u.arbitrary()?;
    opts.map = u
        .choose(&MAPS)?
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Ok(opts)
}

/// A scratch feeds directory for this process.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("poolscope-fuzz-feeds-{}", std::process::id()))
}

fn round_trip(got: &Imported) {
    if got.entries.is_empty() {
        return;
    }
    let dir = scratch();
    let _ = std::fs::remove_dir_all(&dir);
    let report = merge_into_dir(&dir, &got.entries).expect("merge into an empty directory");
    let added: usize = report.added.values().sum();
    assert_eq!(added, got.entries.len(), "merge into an empty directory skipped entries");
    let feed = PoolFeed::load(&dir).expect("a merged directory loads");
    let mut want: Vec<String> = got.entries.iter().map(ident).collect();
    let mut have: Vec<String> = feed.entries().map(|e| ident(&e)).collect();
    want.sort();
    have.sort();
    assert_eq!(want, have, "merged entries load back differently");
    for e in feed.entries() {
        assert!(e.provenance().line.is_some(), "a loaded entry has no line");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(mut u: Unstructured<'_>) -> Result<()> {
    let u = &mut u;
    let format = *u.choose(&ImportFormat::ALL)?;
    let opts = options(u, format)?;
    let split_at: u16 = u.arbitrary()?;
    let merge = u.ratio(1, 8)?;
    let raw = u.bytes(u.len())?;
    let text = String::from_utf8_lossy(raw);
    let text = text.as_ref();

    // The parsers of the feed files themselves, on the same text.
    for file in FeedFile::ALL {
        let mut a = PoolFeed::default();
        let mut b = PoolFeed::default();
        let ra = a.parse_file(file, Path::new(NAME), text);
        let rb = b.parse_file(file, Path::new(NAME), text);
        assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "parsing {file} twice differed");
        assert_eq!(a, b);
        match ra {
            Err(e) => check_error(&e, line_count(text)),
            Ok(()) => {
                for e in a.entries() {
                    let line = e.provenance().line.expect("a loaded entry has a line");
                    assert!((1..=line_count(text)).contains(&line), "entry from line {line}");
                    assert_eq!(e.file(), file);
                }
            }
        }
    }

    let first = import_str(format, NAME, text, &opts);
    let second = import_str(format, NAME, text, &opts);
    assert_eq!(format!("{first:?}"), format!("{second:?}"), "importing twice differed");
    let got = match first {
        Err(e) => {
            check_error(&e, physical_lines(text));
            return Ok(());
        }
        Ok(got) => got,
    };
    check_import(format, &opts, text, &got);

    // Line-local formats: split at a line boundary and import the halves.
    let line_local = matches!(
        format,
        ImportFormat::Hosts
            | ImportFormat::Domains
            | ImportFormat::Adblock
            | ImportFormat::Ips
            | ImportFormat::Maltrail
            | ImportFormat::Suricata
    );
    let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
    if line_local && !ends.is_empty() {
        let cut = ends[usize::from(split_at) % ends.len()];
        let (a, b) = text.split_at(cut);
        // A byte-order mark is only stripped at the very start of a text.
        if !b.starts_with('\u{feff}') {
            let ia = import_str(format, NAME, a, &opts).expect("first half imports");
            let ib = import_str(format, NAME, b, &opts).expect("second half imports");
            let mut joined = ia.entries.clone();
            let known: HashSet<String> = ia.entries.iter().map(|e| format!("{e:?}")).collect();
            joined.extend(ib.entries.iter().filter(|e| !known.contains(&format!("{e:?}"))).cloned());
            assert_eq!(got.entries, joined, "the halves import differently from the whole");
            let (r, ra, rb) = (&got.report, &ia.report, &ib.report);
            assert_eq!(r.lines, ra.lines + rb.lines);
            assert_eq!(r.comments, ra.comments + rb.comments);
            assert_eq!(r.skipped, ra.skipped + rb.skipped);
            assert_eq!(r.accepted + r.duplicates, ra.accepted + ra.duplicates + rb.accepted + rb.duplicates);
        }
    }

    if merge {
        round_trip(&got);
    }
    if matches!(format, ImportFormat::Misp | ImportFormat::Stix) {
        exchange_round_trip(format, *u.choose(&FeedFile::ALL)?, text);
    }
    Ok(())
}

/// `text` as a feed file, exported in `format` and imported back: nothing skipped, and the
/// rows imported export to the same bytes.
fn exchange_round_trip(format: ImportFormat, file: FeedFile, text: &str) {
    let mut feed = PoolFeed::default();
    if feed.parse_file(file, Path::new(NAME), text).is_err() {
        return;
    }
    let as_ = match format {
        ImportFormat::Misp => ExportFormat::Misp,
        _ => ExportFormat::Stix,
    };
    let all = ExportOptions::parse_kinds("all").expect("all is a kind");
    let first = export(&feed, as_, &all).expect("export");
    let opts = ImportOptions::new("fuzz", "2024-05-06");
    let back = import_str(format, NAME, &first.text, &opts).expect("an export imports");
    assert_eq!(back.report.skipped, 0, "own export skipped: {}", back.report);
    let mut again = PoolFeed::default();
    for e in back.entries {
        again.push(e);
    }
    let second = export(&again, as_, &all).expect("export");
    assert_eq!(first.text, second.text, "{format} round trip changed the export");
}

fuzz_target!(|data: &[u8]| {
    let _ = run(Unstructured::new(data));
});
