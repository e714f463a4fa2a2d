//! One DNS message in, the name-to-address mappings of its answer section out.
//!
//! The parser is a pure function over borrowed bytes. It reads the header, walks the question
//! section (so that garbage on port 53 is noticed and counted even in queries) and, for
//! responses to standard queries, the answer section. Only the record types that map a name to
//! an address are decoded (A, AAAA, CNAME, and the address hints of HTTPS/SVCB); every other
//! record is stepped over by its length, so an odd TXT or RRSIG cannot cost the addresses next
//! to it. The authority and additional sections are never read: glue addresses there belong to
//! name servers, not to the name that was asked for. The wire decoding of names and record data
//! is hickory-proto's; chain building and name rendering are ours.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use hickory_proto::op::{Header, MessageType, OpCode};
use hickory_proto::rr::rdata::svcb::SvcParamValue;
use hickory_proto::rr::rdata::SVCB;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError, Restrict};

/// Longest CNAME chain followed back from an address record. Resolvers give up around 8 to 16
/// links; the cap also bounds the work an adversarial answer section can cause.
pub const MAX_CNAME_CHAIN: usize = 16;

/// The DNS class IN; the top bit of the class field is mDNS's cache-flush flag, ignored here.
const CLASS_IN: u16 = 1;

/// One answer that maps a name to an address, with the CNAME chain that led there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsResolution {
    /// The address of the A or AAAA record (or of an HTTPS/SVCB address hint).
    pub addr: IpAddr,
    /// The queried name and every CNAME in the chain down to the owner of the address record,
    /// in that order: lowercase, no trailing dot, bytes outside printable ASCII (and `.` or `\`
    /// inside a label) escaped as `\DDD` / `\.` as in zone files. For an HTTPS/SVCB hint the
    /// record's target name, when it is not the owner itself, comes last.
    pub names: Vec<String>,
    /// TTL of the address record (or of the HTTPS/SVCB record for a hint), in seconds.
    pub ttl: u32,
}

/// The part of a DNS message a parse error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The fixed 12-byte header.
    Header,
    /// The question section.
    Question,
    /// The answer section.
    Answer,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "header",
            Section::Question => "question section",
            Section::Answer => "answer section",
        })
    }
}

/// Why a DNS message could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The message ends before the entry that starts at `offset` does: cut by the snap length,
    /// by a truncating middlebox, or a TCP frame shorter than its contents.
    #[error("DNS message ends inside the {section} (entry starting at byte {offset})")]
    Truncated {
        /// The section being read.
        section: Section,
        /// Byte offset, from the start of the message, of the question or record being read.
        offset: usize,
    },
    /// The entry that starts at `offset` does not decode: a bad label or compression pointer,
    /// a name too long, record data that does not fit its type.
    #[error("malformed DNS {section} (entry starting at byte {offset})")]
    Malformed {
        /// The section being read.
        section: Section,
        /// Byte offset, from the start of the message, of the question or record being read.
        offset: usize,
        /// hickory-proto's account of the problem.
        source: DecodeError,
    },
}

impl DnsError {
    fn from_decode(source: DecodeError, section: Section, offset: usize) -> Self {
        match source {
            DecodeError::InsufficientBytes => DnsError::Truncated { section, offset },
            source => DnsError::Malformed {
                section,
                offset,
                source,
            },
        }
    }
}

/// Parse one DNS message (a UDP payload, or one TCP message without its 2-byte length prefix).
///
/// Responses to standard queries yield one [`DnsResolution`] per address in the answer section,
/// in answer order; queries, other opcodes and answerless responses yield none. Any error in the
/// header, question or answer section fails the whole message: a response that cannot be read
/// to the end of its answers is not trusted for part of them. Bytes after the answer section
/// are not looked at.
pub fn parse_message(bytes: &[u8]) -> Result<Vec<DnsResolution>, DnsError> {
    let mut decoder = BinDecoder::new(bytes);
    let header =
        Header::read(&mut decoder).map_err(|e| DnsError::from_decode(e, Section::Header, 0))?;

    for _ in 0..header.counts.queries {
        let offset = decoder.index();
        skip_question(&mut decoder)
            .map_err(|e| DnsError::from_decode(e, Section::Question, offset))?;
    }

    let metadata = &header.metadata;
    if metadata.message_type != MessageType::Response || metadata.op_code != OpCode::Query {
        return Ok(Vec::new());
    }

    let mut answers = Answers::default();
    for _ in 0..header.counts.answers {
        read_answer(bytes, &mut decoder, &mut answers)?;
    }
    Ok(answers.into_resolutions())
}

/// Step over one question: its name (validated, compression pointers included) and the
/// 4 bytes of type and class.
fn skip_question(decoder: &mut BinDecoder<'_>) -> Result<(), DecodeError> {
    Name::read(decoder)?;
    decoder.read_slice(4)?;
    Ok(())
}

/// The answer records that matter, with names already rendered.
#[derive(Default)]
struct Answers {
    /// (alias, canonical name) of each CNAME record, in answer order.
    cnames: Vec<(String, String)>,
    /// Address records and HTTPS/SVCB hints, in answer order.
    addrs: Vec<AddrRecord>,
}

struct AddrRecord {
    owner: String,
    addr: IpAddr,
    ttl: u32,
    /// Target name of an HTTPS/SVCB record whose hint this is, when it differs from the owner.
    target: Option<String>,
}

/// Read one answer record, keeping what [`Answers`] wants and stepping over the rest.
fn read_answer(
    message: &[u8],
    decoder: &mut BinDecoder<'_>,
    answers: &mut Answers,
) -> Result<(), DnsError> {
    let offset = decoder.index();
    let fail = |e| DnsError::from_decode(e, Section::Answer, offset);

    let owner = Name::read(decoder).map_err(fail)?;
    let rtype = decoder.read_u16().map_err(fail)?.unverified(/* any type is a value */);
    let class = decoder.read_u16().map_err(fail)?.unverified(/* checked below */);
    let ttl = decoder.read_u32().map_err(fail)?.unverified(/* any TTL is a value */);
    let rdlength = decoder.read_u16().map_err(fail)?.unverified(/* checked by read_slice */);
    let rdata_start = decoder.index();
    decoder.read_slice(usize::from(rdlength)).map_err(fail)?;

    let rtype = RecordType::from(rtype);
    let wanted = matches!(
        rtype,
        RecordType::A | RecordType::AAAA | RecordType::CNAME | RecordType::HTTPS | RecordType::SVCB
    );
    if !wanted || class & 0x7fff != CLASS_IN {
        return Ok(());
    }

    // Decode the record data on its own view of the message, ending where the record data
    // ends: compression pointers may only point backwards, so names still resolve, and any
    // read past the declared length is the record's fault, not the message's.
    let Some(upto_rdata_end) = message.get(..rdata_start + usize::from(rdlength)) else {
        return Err(fail(DecodeError::InsufficientBytes)); // unreachable: read_slice checked
    };
    let mut rdata_decoder = BinDecoder::new(upto_rdata_end);
    let rdata = rdata_decoder
        .read_slice(rdata_start)
        .and_then(|_| RData::read(&mut rdata_decoder, rtype, Restrict::new(rdlength)));
    let owner = name_string(&owner);
    match rdata {
        Ok(RData::A(a)) => answers.push_addr(owner, IpAddr::V4(a.0), ttl, None),
        Ok(RData::AAAA(aaaa)) => answers.push_addr(owner, IpAddr::V6(aaaa.0), ttl, None),
        Ok(RData::CNAME(cname)) => answers.cnames.push((owner, name_string(&cname.0))),
        Ok(RData::HTTPS(https)) => answers.push_hints(owner, &https.0, ttl),
        Ok(RData::SVCB(svcb)) => answers.push_hints(owner, &svcb, ttl),
        Ok(_) => {}
        // Hints are a bonus: an HTTPS/SVCB record hickory cannot read costs only its hints.
        Err(_) if matches!(rtype, RecordType::HTTPS | RecordType::SVCB) => {}
        Err(source) => {
            return Err(DnsError::Malformed {
                section: Section::Answer,
                offset,
                source,
            })
        }
    }
    Ok(())
}

impl Answers {
    fn push_addr(&mut self, owner: String, addr: IpAddr, ttl: u32, target: Option<String>) {
        self.addrs.push(AddrRecord {
            owner,
            addr,
            ttl,
            target,
        });
    }

    /// ipv4hint and ipv6hint of a ServiceMode record; AliasMode (priority 0) carries none.
    fn push_hints(&mut self, owner: String, svcb: &SVCB, ttl: u32) {
        if svcb.svc_priority == 0 {
            return;
        }
        let target = Some(name_string(&svcb.target_name)).filter(|t| !t.is_empty() && *t != owner);
        for (_, value) in &svcb.svc_params {
            let addrs: Vec<IpAddr> = match value {
                SvcParamValue::Ipv4Hint(hint) => hint.0.iter().map(|a| IpAddr::V4(a.0)).collect(),
                SvcParamValue::Ipv6Hint(hint) => hint.0.iter().map(|a| IpAddr::V6(a.0)).collect(),
                _ => continue,
            };
            for addr in addrs {
                self.push_addr(owner.clone(), addr, ttl, target.clone());
            }
        }
    }

    fn into_resolutions(self) -> Vec<DnsResolution> {
        let Self { cnames, addrs } = self;
        // canonical name -> alias; the first CNAME to a name wins, as a resolver would follow
        // the question down a single path.
        let mut alias_of: HashMap<&str, &str> = HashMap::with_capacity(cnames.len());
        for (alias, canonical) in &cnames {
            alias_of.entry(canonical.as_str()).or_insert(alias.as_str());
        }

        let mut out = Vec::with_capacity(addrs.len());
        for AddrRecord {
            owner,
            addr,
            ttl,
            target,
        } in &addrs
        {
            let mut chain: Vec<&str> = vec![owner.as_str()];
            while chain.len() <= MAX_CNAME_CHAIN {
                let Some(&alias) = chain.last().and_then(|c| alias_of.get(c)) else {
                    break;
                };
                if chain.contains(&alias) {
                    break; // a CNAME loop
                }
                chain.push(alias);
            }
            chain.reverse();
            let mut names: Vec<String> = chain
                .into_iter()
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(target) = target {
                names.push(target.clone());
            }
            if names.is_empty() {
                continue; // an address for the root name names nothing
            }
            out.push(DnsResolution {
                addr: *addr,
                names,
                ttl: *ttl,
            });
        }
        out
    }
}

/// Render a name as lowercase text without the trailing dot, escaping bytes that are not
/// printable ASCII (and `.` or `\` inside a label) so that distinct wire names stay distinct.
fn name_string(name: &Name) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &byte in label {
            match byte {
                b'.' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(byte));
                }
                0x21..=0x7e => out.push(char::from(byte.to_ascii_lowercase())),
                _ => {
                    out.push('\\');
                    out.push(char::from(b'0' + byte / 100));
                    out.push(char::from(b'0' + byte / 10 % 10));
                    out.push(char::from(b'0' + byte % 10));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dns::testdata::{self, message, res, tshark, wire, MALFORMED, VECTORS};

    /// Every well-formed vector against tshark's decode: one resolution per A/AAAA answer, in
    /// order, with tshark's address, TTL and owner; each chain linked by tshark's CNAMEs, as
    /// long as they go, up to a question name when the answer connects to one.
    #[test]
    fn every_vector_matches_tshark() {
        for (name, hex, tsv) in VECTORS {
            if MALFORMED.contains(name) {
                continue;
            }
            let expect = tshark(tsv);
            let got =
                parse_message(&testdata::unhex(hex)).unwrap_or_else(|e| panic!("{name}: {e}"));
            if !expect.response {
                assert!(got.is_empty(), "{name}: a query yields nothing");
                continue;
            }
            assert_eq!(got.len(), expect.addrs.len(), "{name}");
            for (r, (owner, ttl, addr)) in got.iter().zip(&expect.addrs) {
                assert_eq!(r.addr, *addr, "{name}");
                assert_eq!(r.ttl, *ttl, "{name}");
                assert_eq!(r.names.last().unwrap(), &owner.to_lowercase(), "{name}");
                for pair in r.names.windows(2) {
                    assert!(
                        expect.cnames.iter().any(|(alias, _, canonical)| {
                            alias.to_lowercase() == pair[0] && canonical.to_lowercase() == pair[1]
                        }),
                        "{name}: {} -> {} is not a CNAME in tshark's decode",
                        pair[0],
                        pair[1]
                    );
                }
                let head = &r.names[0];
                assert!(
                    !expect
                        .cnames
                        .iter()
                        .any(|(_, _, canonical)| canonical.to_lowercase() == *head),
                    "{name}: chain stops early at {head}"
                );
                assert!(
                    expect.questions.iter().any(|q| q.to_lowercase() == *head),
                    "{name}: chain head {head} is not a question"
                );
            }
        }
    }

    #[test]
    fn plain_a_records() {
        // dns.pcap frame 5; tshark: e7.whatsapp.net, eight A records, TTL 491.
        let got = parse_message(&message("whatsapp_a")).unwrap();
        let addrs: Vec<String> = got.iter().map(|r| r.addr.to_string()).collect();
        assert_eq!(
            addrs,
            [
                "169.45.219.235",
                "169.47.40.142",
                "169.45.248.121",
                "108.168.176.234",
                "169.45.248.189",
                "169.45.248.180",
                "169.53.81.79",
                "169.45.219.232"
            ]
        );
        assert!(got
            .iter()
            .all(|r| r.names == ["e7.whatsapp.net"] && r.ttl == 491));
    }

    #[test]
    fn cname_chain_of_three() {
        // dns_ambiguous_names.pcap frame 6, as tshark decodes it.
        assert_eq!(
            parse_message(&message("skype_cname3")).unwrap(),
            [res(
                "52.113.194.131",
                &[
                    "api.teams.skype.com",
                    "teams-afd.trafficmanager.net",
                    "teams-afd-trafficmanager-net.s-0004.s-msedge.net",
                    "s-0004.s-msedge.net",
                ],
                141
            )]
        );
    }

    #[test]
    fn cname_chain_of_two_with_many_addresses() {
        // dns_ambiguous_names.pcap frame 2: CNAME TTLs 9431 and 59, A TTL 17.
        let got = parse_message(&message("apple_cname2")).unwrap();
        assert_eq!(got.len(), 8);
        assert_eq!(
            got[0],
            res(
                "17.57.146.139",
                &[
                    "41-courier.push.apple.com",
                    "41.courier-push-apple.com.akadns.net",
                    "eu-north-courier-4.push-apple.com.akadns.net",
                ],
                17
            )
        );
        assert!(got.iter().all(|r| r.names == got[0].names));
    }

    #[test]
    fn aaaa_answers_without_glue() {
        // dns_fragmented.pcap frame 35: two AAAA for erfpop.de, TTL 300.
        assert_eq!(
            parse_message(&message("erfpop_aaaa")).unwrap(),
            [
                res("2606:4700:30::6818:6291", &["erfpop.de"], 300),
                res("2606:4700:30::6818:6391", &["erfpop.de"], 300),
            ]
        );
        // Frame 21: the answer only; the name servers' A/AAAA glue in the additional section
        // (tshark: 2001:470:765b::a25:53, 193.24.227.238, ...) must not be attributed.
        assert_eq!(
            parse_message(&message("fg2mgmt_aaaa_glue")).unwrap(),
            [res("2001:470:1f0b:16b0::1", &["fg2-mgmt.weberlab.de"], 60)]
        );
        // Frame 6 (reassembled from IPv6 fragments): an RRSIG follows the AAAA in the answers.
        assert_eq!(
            parse_message(&message("pa_aaaa_rrsig_frag")).unwrap(),
            [res("2001:470:1f0b:1024::2", &["pa.weberlab.de"], 60)]
        );
    }

    #[test]
    fn control_bytes_in_a_label_are_escaped_like_tshark() {
        // dns-invalid-chars.pcap frame 2; tshark: www.allyourbasesare\001\002\003ongto.cn.
        assert_eq!(
            parse_message(&message("invalid_chars")).unwrap(),
            [res(
                "19.185.141.241",
                &["www.allyourbasesare\\001\\002\\003ongto.cn"],
                60
            )]
        );
    }

    #[test]
    fn answers_without_addresses_yield_nothing() {
        for name in [
            "google_no_answer",
            "teams_nxdomain",
            "long_domainname_nx",
            "dnscat_cname_only",
            "dnscat_mx",
            "dnscat_txt",
            "whatsapp_query",
        ] {
            assert_eq!(parse_message(&message(name)).unwrap(), [], "{name}");
        }
    }

    #[test]
    fn malformed_capture_is_an_error() {
        // malformed_dns.pcap frame 2: tshark shows the second question as <Name too long>.
        let err = parse_message(&message("malformed_name_too_long")).unwrap_err();
        assert!(
            matches!(
                err,
                DnsError::Malformed {
                    section: Section::Question,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_message_is_an_error() {
        let full = message("whatsapp_a");
        let err = parse_message(&full[..full.len() - 1]).unwrap_err();
        assert!(
            matches!(
                err,
                DnsError::Truncated {
                    section: Section::Answer,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(matches!(
            parse_message(&full[..11]),
            Err(DnsError::Truncated {
                section: Section::Header,
                offset: 0
            })
        ));
        assert!(matches!(
            parse_message(&full[..20]),
            Err(DnsError::Truncated {
                section: Section::Question,
                offset: 12
            })
        ));
        assert!(parse_message(&[]).is_err());
    }

    /// A prefix of a message either fails or, when it still holds every answer, gives exactly
    /// the full message's resolutions; it never panics.
    #[test]
    fn every_prefix_of_every_vector() {
        for (name, hex, _) in VECTORS {
            let full = testdata::unhex(hex);
            let whole = parse_message(&full);
            for cut in 0..full.len() {
                if let Ok(part) = parse_message(&full[..cut]) {
                    assert_eq!(Some(&part), whole.as_ref().ok(), "{name} cut at {cut}");
                }
            }
        }
    }

    /// Single-byte corruptions of real messages: errors or resolutions, never a panic.
    #[test]
    fn corrupted_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for (_, hex, _) in VECTORS {
            let full = testdata::unhex(hex);
            for i in 0..full.len() {
                for _ in 0..4 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let mut bytes = full.clone();
                    bytes[i] = state.to_le_bytes()[0];
                    let _ = parse_message(&bytes);
                }
            }
        }
    }

    #[test]
    fn only_responses_to_standard_queries() {
        let mut status = message("whatsapp_a");
        status[2] = (status[2] & 0x87) | (2 << 3); // opcode STATUS
        assert_eq!(parse_message(&status).unwrap(), []);
        let mut query = message("whatsapp_a");
        query[2] &= 0x7f; // QR = 0
        assert_eq!(parse_message(&query).unwrap(), []);
    }

    #[test]
    fn names_are_matched_and_reported_in_lowercase() {
        let msg = wire::response(
            "Pool.Example.COM",
            &[
                wire::record(
                    "POOL.example.com",
                    wire::CNAME,
                    300,
                    &wire::name("LB.Example.NET"),
                ),
                wire::record("lb.example.net", wire::A, 60, &[192, 0, 2, 7]),
            ],
        );
        assert_eq!(
            parse_message(&msg).unwrap(),
            [res(
                "192.0.2.7",
                &["pool.example.com", "lb.example.net"],
                60
            )]
        );
    }

    #[test]
    fn cname_loops_and_long_chains_are_bounded() {
        let looped = wire::response(
            "a.test",
            &[
                wire::record("a.test", wire::CNAME, 1, &wire::name("b.test")),
                wire::record("b.test", wire::CNAME, 1, &wire::name("a.test")),
                wire::record("b.test", wire::A, 1, &[192, 0, 2, 1]),
            ],
        );
        assert_eq!(
            parse_message(&looped).unwrap(),
            [res("192.0.2.1", &["a.test", "b.test"], 1)]
        );

        let links: Vec<String> = (0..40).map(|i| format!("n{i}.test")).collect();
        let mut answers: Vec<Vec<u8>> = links
            .windows(2)
            .map(|w| wire::record(&w[0], wire::CNAME, 1, &wire::name(&w[1])))
            .collect();
        answers.push(wire::record(&links[39], wire::A, 1, &[192, 0, 2, 2]));
        let got = parse_message(&wire::response(&links[0], &answers)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].names.len(), MAX_CNAME_CHAIN + 1);
        assert_eq!(got[0].names.last().unwrap(), "n39.test");
    }

    #[test]
    fn https_and_svcb_hints_are_resolutions() {
        // ServiceMode HTTPS: priority 1, target ".", alpn h2, ipv4hint, ipv6hint (RFC 9460).
        let mut https = vec![0, 1, 0];
        https.extend_from_slice(&[0, 1, 0, 3, 2, b'h', b'2']);
        https.extend_from_slice(&[0, 4, 0, 8, 192, 0, 2, 10, 192, 0, 2, 11]);
        https.extend_from_slice(&[0, 6, 0, 16]);
        https.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        // SVCB with a target of its own.
        let mut svcb = vec![0, 1];
        svcb.extend_from_slice(&wire::name("Edge.CDN.test"));
        svcb.extend_from_slice(&[0, 4, 0, 4, 198, 51, 100, 1]);
        // AliasMode carries no hints.
        let mut alias = vec![0, 0];
        alias.extend_from_slice(&wire::name("other.test"));
        let msg = wire::response(
            "pool.test",
            &[
                wire::record("pool.test", wire::HTTPS, 120, &https),
                wire::record("pool.test", wire::SVCB, 30, &svcb),
                wire::record("pool.test", wire::HTTPS, 30, &alias),
            ],
        );
        assert_eq!(
            parse_message(&msg).unwrap(),
            [
                res("192.0.2.10", &["pool.test"], 120),
                res("192.0.2.11", &["pool.test"], 120),
                res("2001:db8::1", &["pool.test"], 120),
                res("198.51.100.1", &["pool.test", "edge.cdn.test"], 30),
            ]
        );
    }

    #[test]
    fn bad_hints_cost_only_the_hints_but_bad_addresses_fail_the_message() {
        // An HTTPS record whose ipv4hint is 3 bytes long.
        let https = [0, 1, 0, 0, 4, 0, 3, 192, 0, 2];
        let msg = wire::response(
            "pool.test",
            &[
                wire::record("pool.test", wire::HTTPS, 60, &https),
                wire::record("pool.test", wire::A, 60, &[192, 0, 2, 1]),
            ],
        );
        assert_eq!(
            parse_message(&msg).unwrap(),
            [res("192.0.2.1", &["pool.test"], 60)]
        );

        for rdata in [&[192, 0, 2][..], &[][..], &[192, 0, 2, 1, 0][..]] {
            let msg = wire::response(
                "pool.test",
                &[
                    wire::record("pool.test", wire::A, 60, rdata),
                    wire::record("pool.test", wire::A, 60, &[192, 0, 2, 1]),
                ],
            );
            assert!(
                matches!(
                    parse_message(&msg),
                    Err(DnsError::Malformed {
                        section: Section::Answer,
                        ..
                    })
                ),
                "A with {} bytes",
                rdata.len()
            );
        }
    }

    #[test]
    fn other_types_and_classes_are_stepped_over() {
        let msg = wire::response(
            "pool.test",
            &[
                wire::record("pool.test", wire::TXT, 60, &[3, b'a', b'b', b'c']),
                wire::record("pool.test", 0xff00, 60, &[1, 2, 3]), // unassigned type
                wire::record_in_class("pool.test", wire::A, 3, 60, &[192, 0, 2, 9]), // CHAOS
                wire::record_in_class("pool.test", wire::AAAA, 0x8001, 60, &[0; 16]), // mDNS flush
                wire::record("pool.test", wire::A, 60, &[192, 0, 2, 1]),
            ],
        );
        assert_eq!(
            parse_message(&msg).unwrap(),
            [
                res("::", &["pool.test"], 60),
                res("192.0.2.1", &["pool.test"], 60)
            ]
        );
    }
}
