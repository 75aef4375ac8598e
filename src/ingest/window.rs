//! How far validation may run ahead of the store: a bound on the chunks validated but not
//! yet taken in file order, so that an import's memory does not grow with its file.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Chunks handed out beyond the first one not yet taken (1 MiB of CSV each): enough to keep
/// both validation threads busy while the writer takes a chunk, few enough that the chunks
/// waiting for it hold tens of MB, not the whole file.
pub const CHUNKS_AHEAD: usize = 16;

/// The reader asks before handing out chunk `seq` and waits until the consumer has taken
/// chunk `seq - ahead`. Closing the window (the consumer gone, a validation task panicked)
/// releases the reader for good: it then stops handing out chunks.
pub struct Window {
    ahead: usize,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// The chunks before this one have been taken.
    taken: usize,
    closed: bool,
}

impl Window {
    pub fn new(ahead: usize) -> Window {
        Window {
            ahead: ahead.max(1),
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until chunk `seq` may be handed out; `false` when the window is closed.
    pub fn admit(&self, seq: usize) -> bool {
        let mut state = self.state();
        while seq >= state.taken + self.ahead && !state.closed {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        !state.closed
    }

    /// The consumer has taken every chunk before `next_seq`.
    pub fn taken(&self, next_seq: usize) {
        let mut state = self.state();
        if next_seq > state.taken {
            state.taken = next_seq;
            self.changed.notify_all();
        }
    }

    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }
}

/// Closes the window if dropped while its thread panics: a validation task that panicked
/// never hands its chunk over, and the reader would otherwise wait for it forever.
pub struct CloseOnPanic<'w>(pub &'w Window);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_reader_waits_for_the_consumer_and_never_runs_further_ahead() {
        let window = Window::new(3);
        let admitted = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for seq in 0..10 {
                    assert!(window.admit(seq));
                    admitted.store(seq + 1, Ordering::SeqCst);
                }
            });
            for taken in 0..=10 {
                std::thread::sleep(Duration::from_millis(20));
                let seen = admitted.load(Ordering::SeqCst);
                assert!(seen <= taken + 3, "{seen} admitted with {taken} taken");
                window.taken(taken);
            }
        });
        assert_eq!(admitted.into_inner(), 10);
    }

    #[test]
    fn closing_releases_a_waiting_reader_for_good() {
        let window = Window::new(1);
        assert!(window.admit(0));
        std::thread::scope(|s| {
            let reader = s.spawn(|| window.admit(5));
            std::thread::sleep(Duration::from_millis(20));
            window.close();
            assert!(!reader.join().unwrap());
        });
        assert!(!window.admit(0), "closed for good");
    }

    #[test]
    fn a_panicking_task_closes_the_window() {
        let window = Window::new(1);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = CloseOnPanic(&window);
            panic!("a validation bug");
        }));
        assert!(!window.admit(3));
        let fine = Window::new(1);
        drop(CloseOnPanic(&fine));
        assert!(fine.admit(0), "an ordinary drop leaves the window open");
    }
}
