//! `poolscope feed`: the pool intelligence behind `score` — import lists, count, check values.

use super::score::default_feeds_dir;
use crate::intel::{import, merge_into_dir, ImportFormat, ImportOptions, Matcher, PoolFeed};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `poolscope feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// Feed directory. Default: $POOLSCOPE_FEEDS, else ./feeds, else the shipped feeds.
    #[arg(long, global = true)]
    pub feeds: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: FeedCommand,
}

/// The feed subcommands.
#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Add a list in a format analysts already have to the feed files (de-duplicated, with
    /// its provenance).
    Import {
        /// hosts, domains, adblock, sslbl-sha1, sslbl-ja3, ips, csv.
        format: String,
        /// The list to read.
        file: PathBuf,
        /// Where the list comes from (kept on every row). Default: the file name.
        #[arg(long)]
        source: Option<String>,
        /// The list's date, YYYY-MM-DD. Default: the file's modification date.
        #[arg(long)]
        date: Option<String>,
        /// For csv: which columns hold what, e.g. `domain=host,coin=currency`.
        #[arg(long)]
        map: Option<String>,
    },
    /// Count entries per file and source.
    Stats,
    /// Which entries match a domain, IP address or hash, and why (exit 0 on a match, 1 on
    /// none, as grep does).
    Check {
        /// A domain, an IP address, or a certificate/fingerprint hash.
        value: String,
    },
}

fn file_date(path: &std::path::Path) -> String {
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    crate::fingerprint::cert::iso8601_utc(secs)
        .map(|s| s[..10].to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

pub(super) fn run(args: FeedArgs) -> anyhow::Result<i32> {
    let dir = args.feeds.clone().unwrap_or_else(default_feeds_dir);
    match args.command {
        FeedCommand::Import {
            format,
            file,
            source,
            date,
            map,
        } => {
            let result = (|| {
                let format: ImportFormat = format.parse()?;
                let source = source.unwrap_or_else(|| {
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "import".into())
                });
                let mut opts = ImportOptions::new(source, date.unwrap_or_else(|| file_date(&file)));
                if let Some(m) = map {
                    opts.map = ImportOptions::parse_map(&m)?;
                }
                let imported = import(format, &file, &opts)?;
                let merged = merge_into_dir(&dir, &imported.entries)?;
                Ok::<_, crate::intel::FeedError>((imported.report, merged))
            })();
            match result {
                Ok((report, merged)) => {
                    eprint!("{report}");
                    eprint!("{merged}");
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("poolscope: {e}");
                    Ok(2)
                }
            }
        }
        FeedCommand::Stats => match PoolFeed::load(&dir) {
            Ok(feed) => {
                print!("{}", Matcher::new(&feed).stats());
                Ok(0)
            }
            Err(e) => {
                eprintln!("poolscope: {e}");
                Ok(2)
            }
        },
        FeedCommand::Check { value } => match PoolFeed::load(&dir) {
            Ok(feed) => {
                let hits = Matcher::new(&feed).check(&value);
                for h in &hits {
                    println!("{}", h.reason());
                }
                Ok(if hits.is_empty() { 1 } else { 0 })
            }
            Err(e) => {
                eprintln!("poolscope: {e}");
                Ok(2)
            }
        },
    }
}
