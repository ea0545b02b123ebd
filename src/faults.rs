//! Fault points: named places on a request's path (right after a commit,
//! right after the payment provider answered) where a test makes the request
//! stop as if its connection had died there, or holds it while the test
//! breaks something under it, to prove that a retry finds whatever was
//! committed before. Nothing is armed outside tests, and an unarmed point
//! costs one uncontended lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The armed fault points of one application.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<HashMap<String, Fault>>>);

#[derive(Debug)]
enum Fault {
    /// The request stops for good.
    Cut,
    /// The request waits until the test lets it go.
    Hold(Gate),
}

/// A request held at a fault point: the test waits for it to arrive, does
/// what it wants to the world, then lets it go on.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    reached: Arc<Notify>,
    released: Arc<Notify>,
}

impl Gate {
    /// Waits until a request has reached the point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held request go on.
    pub fn release(&self) {
        self.released.notify_one();
    }
}

impl Faults {
    /// Arms `point`: the next request to reach it stops there, once.
    pub fn cut(&self, point: &str) {
        self.arm(point, Fault::Cut);
    }

    /// Arms `point`: the next request to reach it waits there, once, until
    /// the returned gate is released.
    pub fn hold(&self, point: &str) -> Gate {
        let gate = Gate::default();
        self.arm(point, Fault::Hold(gate.clone()));
        gate
    }

    fn arm(&self, point: &str, fault: Fault) {
        if let Ok(mut armed) = self.0.lock() {
            armed.insert(point.to_owned(), fault);
        }
    }

    /// Whether `point` is still armed (no request has reached it yet).
    pub fn is_armed(&self, point: &str) -> bool {
        self.0.lock().is_ok_and(|armed| armed.contains_key(point))
    }

    /// Passes, unless `point` is armed. A cut never returns, so the request
    /// ends here when its client goes away (actix drops the handler's
    /// future), exactly as if the connection had been cut; a hold waits for
    /// its gate.
    pub async fn pass(&self, point: &str) {
        let fault = self.0.lock().ok().and_then(|mut armed| armed.remove(point));
        match fault {
            None => {}
            Some(Fault::Cut) => {
                tracing::warn!(point, "fault point reached: the request stops here");
                std::future::pending::<()>().await;
            }
            Some(Fault::Hold(gate)) => {
                tracing::warn!(point, "fault point reached: the request waits");
                gate.reached.notify_one();
                gate.released.notified().await;
            }
        }
    }
}
