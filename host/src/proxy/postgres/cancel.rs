//! Cancel requests. A client is given movex's own cancel key (a process
//! number and a random secret) at login; the sessions' keys are kept here
//! with each side's own key for the session. A cancel request — a new
//! connection that sends a key and closes — is forwarded to every side the
//! session is connected to, with that side's key: the statement running
//! is stopped wherever it runs. A request with an unknown key is dropped,
//! as the server does.

use super::backend::{self, Target};
use crate::pool::SideName;
use bytes::Bytes;
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Sides = [Option<(Target, Bytes)>; 2];

#[derive(Default)]
pub struct Cancels {
    by_key: Mutex<HashMap<(i32, i32), Arc<Mutex<Sides>>>>,
}

/// A session's place in [`Cancels`], removed when the session ends.
pub struct Registered {
    pub pid: i32,
    pub secret: i32,
    sides: Arc<Mutex<Sides>>,
    cancels: Arc<Cancels>,
}

impl Cancels {
    /// Register a session under a new key; `id` is the door's number for it.
    pub fn register(self: &Arc<Self>, id: u32) -> Registered {
        let pid = (id & 0x3fff_ffff) as i32;
        let sides = Arc::new(Mutex::new([None, None]));
        let mut map = self.by_key.lock().expect("not poisoned");
        let secret = loop {
            let s: i32 = rand::thread_rng().r#gen();
            if !map.contains_key(&(pid, s)) {
                break s;
            }
        };
        map.insert((pid, secret), sides.clone());
        Registered { pid, secret, sides, cancels: self.clone() }
    }

    /// Forward a cancel request for key (`pid`, `secret`), if it is a session's.
    pub async fn cancel(&self, pid: i32, secret: i32) {
        let Some(sides) = self.by_key.lock().expect("not poisoned").get(&(pid, secret)).cloned() else {
            tracing::debug!(pid, "proxy: a cancel request for no session; dropped");
            return;
        };
        let targets: Vec<(Target, Bytes)> = sides.lock().expect("not poisoned").iter().flatten().cloned().collect();
        for (t, key) in targets {
            if let Err(e) = backend::cancel(&t, &key).await {
                tracing::warn!(side = t.label, error = format!("{e:#}"), "proxy: forwarding a cancel request failed");
            }
        }
    }
}

impl Registered {
    /// The side's connection and its key (`None`: not connected).
    pub fn set(&self, side: SideName, key: Option<(Target, Bytes)>) {
        let i = match side {
            SideName::Source => 0,
            SideName::Destination => 1,
        };
        self.sides.lock().expect("not poisoned")[i] = key;
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.cancels.by_key.lock().expect("not poisoned").remove(&(self.pid, self.secret));
    }
}
