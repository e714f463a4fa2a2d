//! The fallback data-set walker: decodes NetFlow v9 and IPFIX data sets from the cached
//! templates where `netflow_parser` returns nothing (variable-length fields, templates that
//! came from another source port). Pure functions over the datagram's bytes; the template cache
//! and the held data sets stay in [`super::NetflowDecoder`].

use super::*;

/// One field of a data template.
#[derive(Debug, Clone, Copy)]
pub(super) struct TemplateItem {
    pub(super) id: u16,
    pub(super) len: u16,
    pub(super) enterprise: Option<u32>,
}

/// The sets of one datagram, by id, in order, for the fallback decoder.
pub(super) struct RawSets<'a> {
    pub(super) sets: Vec<(u16, &'a [u8])>,
}

impl<'a> RawSets<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        let mut sets = Vec::new();
        let header = match data.get(..2) {
            Some([0, 9]) => 20,
            Some([0, 10]) => 16,
            _ => return RawSets { sets },
        };
        let mut off = header;
        while off + 4 <= data.len() {
            let id = u16::from_be_bytes([data[off], data[off + 1]]);
            let len = usize::from(u16::from_be_bytes([data[off + 2], data[off + 3]]));
            if len < 4 || off + len > data.len() {
                break;
            }
            sets.push((id, &data[off + 4..off + len]));
            off += len;
        }
        RawSets { sets }
    }

    /// The first not yet used set with this id.
    pub(super) fn take(&mut self, id: u16) -> Option<&'a [u8]> {
        let i = self.sets.iter().position(|(k, _)| *k == id)?;
        Some(self.sets.remove(i).1)
    }
}

/// A field's bytes as a value, by what the element is.
pub(super) fn raw_value(id: u16, b: &[u8]) -> Option<Value> {
    let uint = |b: &[u8]| -> Option<u64> {
        (b.len() <= 8).then(|| b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x)))
    };
    Some(match id {
        ie::SRC_V4 | ie::DST_V4 if b.len() == 4 => {
            Value::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        ie::SRC_V6 | ie::DST_V6 if b.len() == 16 => {
            let a: [u8; 16] = b.try_into().ok()?;
            Value::Ip(IpAddr::from(a))
        }
        ie::START_SECONDS | ie::END_SECONDS => Value::Secs(uint(b)? as f64),
        ie::START_MILLIS | ie::END_MILLIS | ie::SYSTEM_INIT_MILLIS => {
            Value::Secs(uint(b)? as f64 / 1e3)
        }
        ie::START_MICROS | ie::END_MICROS | ie::START_NANOS | ie::END_NANOS if b.len() == 8 => {
            let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let frac = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            Value::Secs(f64::from(secs) + f64::from(frac) / 4_294_967_296.0)
        }
        _ => Value::Num(uint(b)?),
    })
}

/// Walks the records of a data set by its template; false when the set ends inside a record.
pub(super) fn walk_records(
    mut body: &[u8],
    items: &[TemplateItem],
    out: &mut dyn FnMut(Fields),
) -> bool {
    let fixed: usize = items
        .iter()
        .map(|i| {
            if i.len == 0xffff {
                1
            } else {
                usize::from(i.len)
            }
        })
        .sum();
    if fixed == 0 {
        return false;
    }
    // What is left after the last record shorter than one is set padding.
    while body.len() >= fixed {
        let mut f = Fields::default();
        for item in items {
            let len = if item.len == 0xffff {
                let Some(&l) = body.first() else { return false };
                body = &body[1..];
                if l == 255 {
                    if body.len() < 2 {
                        return false;
                    }
                    let l = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    body = &body[2..];
                    l
                } else {
                    usize::from(l)
                }
            } else {
                usize::from(item.len)
            };
            if body.len() < len {
                return false;
            }
            let (v, rest) = body.split_at(len);
            body = rest;
            let list = match item.enterprise {
                None => &mut f.fwd,
                Some(29305) => &mut f.rev,
                Some(_) => continue,
            };
            if ie::ALL.contains(&item.id) {
                if let Some(x) = raw_value(item.id, v) {
                    list.push((item.id, x));
                }
            }
        }
        out(f);
    }
    true
}
