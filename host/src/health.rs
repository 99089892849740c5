//! Faults that make movex unhealthy while they last: a front door that
//! stopped accepting, a journal the state store cannot take, a module
//! directory out of step. Each part of movex sets its fault under its own
//! name and clears it when it recovers; `GET /health` answers 503 and
//! names every fault while any is set.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One fault: what is wrong, what to do, and since when.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Fault {
    pub cause: String,
    /// RFC 3339, UTC.
    pub since: String,
}

/// The named faults in force. Shared (`Arc<Faults>`) by every part that
/// may set one.
#[derive(Debug, Default)]
pub struct Faults {
    by_name: Mutex<BTreeMap<String, Fault>>,
}

impl Faults {
    /// Set (or replace the cause of) the fault `name`; `since` is kept from
    /// the first time it was set.
    pub fn set(&self, name: &str, cause: impl Into<String>) {
        let cause = cause.into();
        let mut by_name = self.by_name.lock().expect("faults lock");
        match by_name.get_mut(name) {
            Some(f) => f.cause = cause,
            None => {
                tracing::error!(fault = name, cause = %cause, "movex is unhealthy");
                let since = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                by_name.insert(name.to_owned(), Fault { cause, since });
            }
        }
    }

    /// The fault `name` is over.
    pub fn clear(&self, name: &str) {
        if self.by_name.lock().expect("faults lock").remove(name).is_some() {
            tracing::info!(fault = name, "fault cleared");
        }
    }

    /// Every fault in force, by name.
    pub fn list(&self) -> BTreeMap<String, Fault> {
        self.by_name.lock().expect("faults lock").clone()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.lock().expect("faults lock").is_empty()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fault_keeps_its_first_time_and_goes_when_cleared() {
        let f = super::Faults::default();
        f.set("door", "accept loop ended");
        let since = f.list()["door"].since.clone();
        f.set("door", "still down");
        assert_eq!(f.list()["door"], super::Fault { cause: "still down".into(), since });
        f.clear("door");
        assert!(f.is_empty());
    }
}
