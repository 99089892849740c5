//! The door's live sessions, by the connection id each client was given:
//! the primary's own id for its connection, so `CONNECTION_ID()`, the
//! process list and the greeting agree. `KILL [QUERY] <id>` (and
//! `COM_PROCESS_KILL`) finds the session here and is carried out on each
//! side under that side's id for it (`session/kill.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// One session, as another session's KILL sees it.
#[derive(Debug)]
pub struct Entry {
    /// The movex user who logged in: only they may kill it, as a server
    /// lets a user kill only their own threads.
    pub user: String,
    /// Each side's connection id, 0 while not connected, by the session's
    /// side index (source, destination).
    thread_ids: [AtomicU32; 2],
}

impl Entry {
    pub fn thread_id(&self, side: usize) -> u32 {
        self.thread_ids[side].load(Ordering::Relaxed)
    }

    pub fn set_thread_id(&self, side: usize, id: u32) {
        self.thread_ids[side].store(id, Ordering::Relaxed);
    }
}

/// The door's sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<u32, Arc<Entry>>>,
}

/// A session's place in [`Sessions`], given up when dropped.
pub struct Registered {
    sessions: Arc<Sessions>,
    id: u32,
    pub entry: Arc<Entry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut by_id = self.sessions.by_id.lock().unwrap_or_else(|e| e.into_inner());
        // Only its own: a later session may have been given the same id
        // (the source's and the destination's ids can meet).
        if by_id.get(&self.id).is_some_and(|e| Arc::ptr_eq(e, &self.entry)) {
            by_id.remove(&self.id);
        }
    }
}

impl Sessions {
    /// Register the session whose client was given `id`.
    pub fn register(self: &Arc<Self>, id: u32, user: &str) -> Registered {
        let entry = Arc::new(Entry { user: user.to_owned(), thread_ids: Default::default() });
        self.by_id.lock().unwrap_or_else(|e| e.into_inner()).insert(id, entry.clone());
        Registered { sessions: self.clone(), id, entry }
    }

    /// The session a KILL names: by the id its client was given, else by
    /// its current connection id on side `side` (a process list read
    /// after a pattern switch shows that one).
    pub fn find(&self, id: u32, side: usize) -> Option<Arc<Entry>> {
        let by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        by_id.get(&id).cloned().or_else(|| by_id.values().find(|e| id != 0 && e.thread_id(side) == id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_id_or_its_current_connection_and_forgotten_when_it_ends() {
        let sessions = Arc::new(Sessions::default());
        let a = sessions.register(79, "app");
        a.entry.set_thread_id(0, 79);
        a.entry.set_thread_id(1, 412);
        assert_eq!(sessions.find(79, 0).map(|e| e.thread_id(1)), Some(412));
        assert!(sessions.find(412, 1).is_some_and(|e| Arc::ptr_eq(&e, &a.entry)), "by the destination's id");
        assert!(sessions.find(412, 0).is_none(), "412 is not a source connection of any session");
        // Another session given the same id (from the other server) takes
        // the id; the first one ending does not remove it.
        let b = sessions.register(79, "app");
        drop(a);
        assert!(sessions.find(79, 0).is_some_and(|e| Arc::ptr_eq(&e, &b.entry)));
        drop(b);
        assert!(sessions.find(79, 0).is_none());
    }
}
