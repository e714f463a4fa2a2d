//! The merge: lanes' events in [`Pos`] order, DNS answers into the input's name table, each
//! finished flow given its DNS names and handed to the sink.

use super::lane::{Event, Events, Pos};
use crate::dissect::dns::NameTable;
use crate::error::Result;
use crate::output::FlowRecord;
use std::collections::VecDeque;
use std::sync::mpsc::Receiver;

/// Events of a lane, with the promise that nothing at or before `upto` is still to come.
pub(super) struct Chunk {
    pub(super) events: Vec<(Pos, Event)>,
    pub(super) upto: Pos,
}

/// Applies events in order: the name table, the sink and the live-flow peak.
pub(super) struct Merge<'s> {
    names: NameTable,
    sink: &'s mut dyn FnMut(FlowRecord) -> Result<()>,
    live_at: Option<u64>,
    live: u64,
    /// Most flows live at once, as counted at the expiry passes and at the end of the input.
    pub(super) peak_live: u64,
}

impl<'s> Merge<'s> {
    pub(super) fn new(names: NameTable, sink: &'s mut dyn FnMut(FlowRecord) -> Result<()>) -> Self {
        Merge {
            names,
            sink,
            live_at: None,
            live: 0,
            peak_live: 0,
        }
    }

    /// Merges the lanes' chunks as they come, until every lane has closed its channel; stops
    /// at the first sink error (the receivers are then dropped, which stops the lanes).
    pub(super) fn run(
        &mut self,
        lanes: Vec<Receiver<Chunk>>,
        tick: &mut dyn FnMut(),
    ) -> Result<()> {
        struct Input {
            rx: Receiver<Chunk>,
            queue: VecDeque<(Pos, Event)>,
            upto: Pos,
            closed: bool,
        }
        let mut inputs: Vec<Input> = lanes
            .into_iter()
            .map(|rx| Input {
                rx,
                queue: VecDeque::new(),
                upto: Pos::done(0),
                closed: false,
            })
            .collect();
        loop {
            // Each lane's next event, or for a lane with none queued, the point up to which it
            // has promised nothing more: the smallest decides what happens next.
            let mut best: Option<(Pos, bool, usize)> = None;
            for (i, input) in inputs.iter().enumerate() {
                let key = match input.queue.front() {
                    Some((pos, _)) => (*pos, false),
                    None if input.closed => continue,
                    None => (input.upto, true),
                };
                if best.is_none_or(|(p, w, _)| key < (p, w)) {
                    best = Some((key.0, key.1, i));
                }
            }
            let Some((_, waiting, i)) = best else {
                return Ok(());
            };
            let input = &mut inputs[i];
            if waiting {
                match input.rx.recv() {
                    Ok(chunk) => {
                        input.queue.extend(chunk.events);
                        input.upto = chunk.upto;
                        tick();
                    }
                    Err(_) => input.closed = true,
                }
            } else if let Some((pos, event)) = input.queue.pop_front() {
                self.apply(pos, event)?;
            }
        }
    }

    fn apply(&mut self, pos: Pos, event: Event) -> Result<()> {
        match event {
            Event::Resolved(ts, r) => self.names.insert(ts, &r),
            Event::Ended(f) | Event::Updated(f) => {
                let mut f = *f;
                for r in &f.resolutions {
                    self.names.insert(f.record.last_seen, r);
                }
                f.record.dns_names = self.names.names_for(f.record.dst_ip, f.record.first_seen);
                (self.sink)(f.record)?;
            }
            Event::Live(n) => {
                if self.live_at != Some(pos.frame) {
                    self.live_at = Some(pos.frame);
                    self.live = 0;
                }
                self.live += n;
                self.peak_live = self.peak_live.max(self.live);
            }
        }
        Ok(())
    }
}

impl Events for Merge<'_> {
    fn push(&mut self, pos: Pos, event: Event) -> Result<()> {
        self.apply(pos, event)
    }
}
