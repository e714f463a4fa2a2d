//! A small fixed pool of threads for probing: blocking sockets with timeouts on a handful of
//! workers are all a few thousand endpoints need, and keep the number of connections open at
//! once bounded by the number of workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work` on every item with at most `jobs` threads; `on_done(index, result)` is called on
/// the calling thread as results arrive (in completion order).
pub(crate) fn for_each<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut on_done: impl FnMut(usize, R),
) {
    let workers = jobs.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if tx.send((i, work(item))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            on_done(i, r);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn every_item_once_and_never_more_than_jobs_at_a_time() {
        let items: Vec<usize> = (0..40).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut seen = vec![0; items.len()];
        for_each(
            &items,
            3,
            |&x| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                x * 2
            },
            |i, r| {
                assert_eq!(r, i * 2);
                seen[i] += 1;
            },
        );
        assert!(seen.iter().all(|&n| n == 1));
        assert!(peak.load(Ordering::SeqCst) <= 3);
        for_each(&[] as &[u8], 8, |_| (), |_, _| panic!("no items"));
    }
}
