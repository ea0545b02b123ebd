//! Fault points: named places on a request's path (right after a commit,
//! right after the payment provider answered) where a test makes the request
//! stop as if its connection had died there, to prove that a retry finds
//! whatever was committed before it. Nothing is armed outside tests, and an
//! unarmed point costs one uncontended lock.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The armed fault points of one application.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<HashSet<String>>>);

impl Faults {
    /// Arms `point`: the next request to reach it stops there, once.
    pub fn arm(&self, point: &str) {
        if let Ok(mut armed) = self.0.lock() {
            armed.insert(point.to_owned());
        }
    }

    /// Whether `point` is still armed (no request has reached it yet).
    pub fn is_armed(&self, point: &str) -> bool {
        self.0.lock().is_ok_and(|armed| armed.contains(point))
    }

    /// Passes, unless `point` is armed: then disarms it and never returns, so
    /// the request ends here when its client goes away (actix drops the
    /// handler's future), exactly as if the connection had been cut.
    pub async fn pass(&self, point: &str) {
        let hit = self.0.lock().is_ok_and(|mut armed| armed.remove(point));
        if hit {
            tracing::warn!(point, "fault point reached: the request stops here");
            std::future::pending::<()>().await;
        }
    }
}
