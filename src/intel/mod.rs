//! Threat intelligence about mining: which domains, addresses, certificates and TLS
//! fingerprints belong to pools or miners, and which values are known to be good. This layer
//! sits between the flow records and the scorer. [`feeds`] loads the shipped (or an analyst's)
//! feeds directory into a [`PoolFeed`], strictly and with provenance on every entry;
//! [`mod@import`] turns the list formats analysts already have (hosts files, Adblock lists, abuse.ch
//! CSVs, IP lists, mapped CSVs) into feed entries and merges them into a feeds directory;
//! [`matcher`] indexes a feed for exact lookups and reports, per flow, every [`Match`] with its
//! source, date and strength, the allowlist winning over every list; [`age`] weighs a pool
//! row by the distance between its date and the flow's; [`mod@export`] writes the feeds as
//! Suricata rules, a Zeek Intel file, a MISP event or a STIX 2.1 bundle, which `import` reads
//! back.

pub mod age;
pub mod error;
pub mod export;
pub mod feeds;
pub mod import;
pub mod learn;
pub mod matcher;
pub mod value;

pub use error::FeedError;
pub use export::{export, ExportFormat, ExportOptions, ExportReport, Exported, IndicatorClass};
pub use feeds::{FeedEntry, FeedFile, PoolFeed, Provenance};
pub use import::{
    import, import_str, merge_into_dir, ImportFormat, ImportOptions, ImportReport, Imported,
    MergeReport,
};

pub use matcher::{FeedStats, Field, FlowView, Match, MatchKind, Matcher, StatsRow, Strength};
