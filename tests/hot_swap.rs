//! Hot swap: replacing a module while batches run. Every batch completes on
//! exactly one version; no batch fails; a broken replacement is refused and
//! the old version keeps serving.

use movex::wasm::{LoadError, PairOutcome, Registry, Runtime, RuntimeConfig};
use movex_tests::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one batch saw: the version it ran on and the reasons it got back.
struct BatchRecord {
    registry_version: u64,
    module_version: String,
    reasons: BTreeSet<String>,
    failed: usize,
}

#[test]
fn swapping_under_load_finishes_every_batch_on_one_version() {
    // Swaps come from cached artifacts, as in production after the first
    // upload; compiling is not what this test is about.
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() }).unwrap();
    let reg = Arc::new(Registry::new(runtime));
    let a = wasm_bytes("fixture-probe-a");
    let b = wasm_bytes("fixture-probe-b");
    reg.load(&b).unwrap();
    reg.load(&a).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let records = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (reg, stop, records) = (reg.clone(), stop.clone(), records.clone());
            std::thread::spawn(move || {
                let batch = equal_users(128);
                let binding = users();
                while !stop.load(Ordering::Relaxed) {
                    let module = reg.get("probe").expect("probe is always served");
                    let out = module.compare(&binding, &batch).expect("probe is a comparator");
                    let mut rec = BatchRecord {
                        registry_version: module.version,
                        module_version: module.description.version.clone(),
                        reasons: BTreeSet::new(),
                        failed: 0,
                    };
                    for o in out {
                        match o {
                            PairOutcome::Different { reason, .. } => {
                                rec.reasons.insert(reason);
                            }
                            _ => rec.failed += 1,
                        }
                    }
                    records.lock().unwrap().push(rec);
                }
            })
        })
        .collect();

    // Each swap waits for a batch to have finished on the version it
    // replaces, not for a while: on a busy machine a while can pass with no
    // batch at all. (The deadline only keeps a hang from lasting forever.)
    let served = |version: u64| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !records.lock().unwrap().iter().any(|r: &BatchRecord| r.registry_version == version) {
            assert!(Instant::now() < deadline, "no batch finished on version {version}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let mut versions = vec![reg.version()];
    for i in 0..10 {
        served(*versions.last().unwrap());
        let loaded = reg.load(if i % 2 == 0 { &b } else { &a }).unwrap();
        assert!(!loaded.unchanged);
        assert_eq!(loaded.replaced, versions.last().copied(), "each swap replaces the version before");
        versions.push(loaded.module.version);
    }
    served(*versions.last().unwrap());
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("no worker panicked");
    }

    assert!(versions.windows(2).all(|w| w[1] == w[0] + 1), "the version counter counts swaps: {versions:?}");
    let records = records.lock().unwrap();
    let mut seen = BTreeSet::new();
    for r in records.iter() {
        assert_eq!(r.failed, 0, "no pair of any batch failed");
        assert_eq!(r.reasons.len(), 1, "a batch is answered by one version only: {:?}", r.reasons);
        let reason = r.reasons.iter().next().unwrap();
        assert_eq!(reason, &r.module_version, "answered by the version the batch started on");
        seen.insert(r.registry_version);
    }
    assert_eq!(seen, versions.iter().copied().collect(), "every version served batches");
}

#[test]
fn a_broken_replacement_is_refused_and_the_old_version_keeps_serving() {
    let reg = registry();
    let old = reg.load(&wasm_bytes("fixture-probe-a")).unwrap().module;
    let version = reg.version();

    let broken = reg.load_as("probe", &wasm_bytes("fixture-probe-broken"));
    assert!(matches!(broken, Err(LoadError::Exercise(ref e)) if e.detail.contains("broken")), "{:?}", broken.err().map(|e| e.to_string()));
    assert!(matches!(reg.load_as("probe", b"garbage"), Err(LoadError::NotWasm { .. })));
    assert!(matches!(reg.load_as("probe", &wasm_bytes("fixture-wrong-interface")), Err(LoadError::WrongInterface { .. })));
    assert!(matches!(reg.load_as("probe", &wasm_bytes("exact")), Err(LoadError::NameMismatch { .. })));

    assert_eq!(reg.version(), version, "refused loads take no version");
    let serving = reg.get("probe").unwrap();
    assert!(Arc::ptr_eq(&serving, &old));
    let out = serving.compare(&users(), &equal_users(4)).unwrap();
    assert!(out.iter().all(|o| matches!(o, PairOutcome::Different { reason, .. } if reason == "a")));
    assert!(reg.get("exact").is_none(), "the mismatched upload was not loaded under its own name either");
}

#[test]
fn identical_uploads_change_nothing_and_unload_lets_holders_finish() {
    let reg = registry();
    let first = reg.load(&wasm_bytes("fixture-probe-a")).unwrap();
    let again = reg.load(&wasm_bytes("fixture-probe-a")).unwrap();
    assert!(again.unchanged);
    assert_eq!(again.module.version, first.module.version);

    let held = reg.get("probe").unwrap();
    assert!(reg.unload("probe").is_some());
    assert!(reg.get("probe").is_none());
    assert!(reg.unload("probe").is_none());
    let out = held.compare(&users(), &equal_users(2)).unwrap();
    assert_eq!(out.len(), 2, "a batch holding the module still completes after unload");
}
