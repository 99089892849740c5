//! Broken and malicious modules: each is refused or fails with its exact
//! error class, and the host keeps serving. No verdict here depends on how
//! busy the machine is: the CPU bound counts the guest's own CPU time, and
//! what the bounds cost is checked by counting calls, not with a stopwatch.

use movex::wasm::{Batch, FailureKind, GuestError, Limits, LoadError, PairOutcome, Registry, Runtime, RuntimeConfig};
use movex_guest::Value;
use movex_tests::*;
use std::time::{Duration, Instant};

fn refused(package: &str) -> LoadError {
    match registry().load(&wasm_bytes(package)) {
        Ok(l) => panic!("{package} was accepted as {}", l.module.name()),
        Err(e) => e,
    }
}

fn exercise_failure(package: &str) -> GuestError {
    match refused(package) {
        LoadError::Exercise(e) => *e,
        other => panic!("{package}: expected an exercise failure, got {other}"),
    }
}

/// Call a broken fixture directly on one pair; return the error and how long it took.
fn fail_one(limits: Limits, package: &str) -> (GuestError, Duration) {
    let rt = runtime(limits);
    let module = unchecked_module(&rt, package);
    let mut batch = Batch::new();
    batch.push_pair("42", user(42, "a", 1.0, 1), user(42, "a", 1.0, 1));
    let started = Instant::now();
    let out = module.compare(&users(), &batch).unwrap();
    let took = started.elapsed();
    match out.into_iter().next().unwrap() {
        PairOutcome::Failed(e) => (*e, took),
        other => panic!("{package}: expected a failure, got {other:?}"),
    }
}

#[test]
fn an_infinite_loop_times_out_once_it_has_used_its_cpu_time() {
    let (e, took) = fail_one(Limits::default(), "fixture-loop");
    assert_eq!(e.kind, FailureKind::Timeout);
    assert_eq!((e.module.as_str(), e.key.as_deref()), ("fixture-loop", Some("42")));
    // A thread uses no more CPU time than wall time passes, so however busy
    // the machine, the loop cannot be stopped before its budget. (How soon
    // after is the scheduler's business: not asserted.)
    assert!(took >= Limits::default().call_timeout, "not before the limit: {took:?}");
    assert!(e.detail.contains("CPU time limit"), "{e}");
    assert!(e.to_string().contains("module fixture-loop (version 1) comparator timed out on row 42"), "{e}");
}

#[test]
fn a_loop_in_a_many_row_batch_is_pinned_on_its_row_at_the_cost_of_two_calls() {
    let rt = runtime(Limits::default());
    let module = unchecked_module(&rt, "fixture-loop");
    let out = module.compare(&users(), &equal_users(64)).unwrap();
    // What a loop costs, counted rather than timed: the batch's call and one
    // re-run of its first row (with a tenth of the budget: see
    // `isolate::Part::timeout`), about 1.1x the time limit; the other 63
    // rows are not run again.
    assert_eq!(module.stats.failures_of(FailureKind::Timeout), 2, "{:?}", module.stats.snapshot());
    let errors: Vec<&GuestError> = out
        .iter()
        .map(|o| match o {
            PairOutcome::Failed(e) => &**e,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(errors.len(), 64);
    assert!(errors.iter().all(|e| e.kind == FailureKind::Timeout));
    assert_eq!(errors[0].key.as_deref(), Some("1"), "the row it was stuck on");
    assert!(errors[1].detail.starts_with("not processed"), "{}", errors[1]);
    assert_eq!(errors[63].key.as_deref(), Some("64"), "every row is accounted for by key");
}

#[test]
fn a_core_module_importing_its_own_host_functions_is_refused_before_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() }).unwrap();
    match Registry::new(rt).load(&wasm_bytes("fixture-core-import")) {
        Err(LoadError::ForbiddenImport { import, .. }) => assert_eq!(import, "env::movex_fixture_clock"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    }
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "nothing compiled or cached for a refused module");
}

#[test]
fn refused_components_leave_nothing_in_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() }).unwrap();
    let reg = Registry::new(rt);
    assert!(reg.load(&wasm_bytes(WASIP2_FIXTURE)).is_err());
    assert!(reg.load(&wasm_bytes("fixture-wrong-interface")).is_err());
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[test]
fn limits_that_would_break_the_host_are_refused_at_start() {
    let bad = Limits { epoch_tick: Duration::ZERO, ..Limits::default() };
    let err = Runtime::new(RuntimeConfig { limits: bad, cache_dir: None }).err().expect("refused");
    assert!(err.to_string().contains("epoch_tick"), "{err}");
}

#[test]
fn fuel_bounds_a_loop_too_when_enabled() {
    let limits = Limits { fuel_per_call: Some(10_000_000), ..Limits::default() };
    let (e, _) = fail_one(limits, "fixture-loop");
    assert_eq!(e.kind, FailureKind::Timeout);
    assert!(e.detail.contains("fuel"), "{e}");
}

#[test]
fn a_memory_bomb_hits_the_cap_and_is_named_as_such() {
    let (e, _) = fail_one(Limits::default(), "fixture-memory-bomb");
    assert_eq!(e.kind, FailureKind::MemoryExhausted, "{e}");
    assert!(e.detail.contains("cap is 64 MiB"), "{e}");

    let small = Limits { memory_bytes: 24 << 20, ..Limits::default() };
    let (e, _) = fail_one(small, "fixture-memory-bomb");
    assert!(e.detail.contains("cap is 24 MiB"), "the configured cap applies: {e}");
}

/// A memory bomb in a batch: its rows re-run alone get the whole budget
/// (the batch did not time out), so each fails as it did in the batch, out
/// of memory, not cut short as a timeout.
#[test]
fn a_memory_bomb_in_a_batch_is_out_of_memory_on_every_row() {
    let rt = runtime(Limits::default());
    let module = unchecked_module(&rt, "fixture-memory-bomb");
    let out = module.compare(&users(), &equal_users(8)).unwrap();
    for o in &out {
        match o {
            PairOutcome::Failed(e) => assert_eq!(e.kind, FailureKind::MemoryExhausted, "{e}"),
            other => panic!("{other:?}"),
        }
    }
    let stats = module.stats.snapshot();
    assert_eq!(module.stats.failures_of(FailureKind::MemoryExhausted), 4, "the batch, then three rows alone: {stats:?}");
    assert_eq!(module.stats.failures_of(FailureKind::Timeout), 0, "{stats:?}");
}

/// A busy machine, on purpose: the guest's thread shares its CPU with
/// spinning threads, so it gets a small share of the wall time. The bomb
/// needs about 40 ms of CPU to reach the cap (measured here); the 500 ms of
/// CPU it may use take far more wall time than that. A wall-clock bound
/// called this bomb a timeout; counted in CPU time, it reaches the cap,
/// however long it waits for the CPU. The scene is set only when the call
/// needed more wall time than its budget: where the scheduler still left
/// the guest more of the CPU than that, it is set again with a larger crowd
/// (the verdict is the failure's kind, whatever the machine's load).
#[cfg(target_os = "linux")]
#[test]
fn a_memory_bomb_on_a_crowded_cpu_still_reaches_the_cap() {
    let limits = Limits { call_timeout: Duration::from_millis(500), ..Limits::default() };
    // Compiled before the crowd comes: the runtime's compile and epoch
    // threads are made unpinned, so only the guest's thread is crowded.
    let rt = runtime(limits.clone());
    let module = unchecked_module(&rt, "fixture-memory-bomb");
    let mut batch = Batch::new();
    batch.push_pair("42", user(42, "a", 1.0, 1), user(42, "a", 1.0, 1));

    for size in [CROWD, 2 * CROWD, 4 * CROWD] {
        let crowd = Crowd::on_this_cpu(size);
        let (cpu_before, started) = (thread_cpu(), Instant::now());
        let out = module.compare(&users(), &batch).unwrap();
        let (cpu, wall) = (thread_cpu() - cpu_before, started.elapsed());
        crowd.leave();

        match &out[0] {
            PairOutcome::Failed(e) => assert_eq!(e.kind, FailureKind::MemoryExhausted, "{e} (CPU {cpu:?}, wall {wall:?}, crowd {size})"),
            other => panic!("{other:?}"),
        }
        if wall > limits.call_timeout {
            return;
        }
        eprintln!("a crowd of {size} left the guest too much of its CPU (CPU {cpu:?}, wall {wall:?}): again with more");
    }
    panic!("no crowd slowed the guest past its budget: the scene was never set");
}

/// Spinning threads for `a_memory_bomb_on_a_crowded_cpu_still_reaches_the_cap`:
/// enough that a bomb needing 40 ms of CPU waits past its 500 ms budget.
#[cfg(target_os = "linux")]
const CROWD: usize = 48;

#[cfg(target_os = "linux")]
struct Crowd {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl Crowd {
    /// Pin this thread to the CPU it is on, and start `n` threads spinning
    /// on that CPU too.
    fn on_this_cpu(n: usize) -> Crowd {
        // SAFETY: plain syscalls about the calling thread.
        let cpu = unsafe { libc::sched_getcpu() };
        assert!(cpu >= 0, "sched_getcpu");
        pin(cpu as usize);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Every thread is on the CPU and about to spin before this returns.
        let ready = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
        let threads = (0..n)
            .map(|_| {
                let (stop, ready) = (stop.clone(), ready.clone());
                std::thread::spawn(move || {
                    pin(cpu as usize);
                    ready.wait();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        ready.wait();
        Crowd { stop, threads }
    }

    fn leave(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

#[cfg(target_os = "linux")]
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; the call reads it only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set), 0, "sched_setaffinity");
    }
}

/// CPU time this thread has used.
#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: fills in one timespec owned here.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn deep_recursion_overflows_the_bounded_stack() {
    let (e, _) = fail_one(Limits::default(), "fixture-recursion");
    assert_eq!(e.kind, FailureKind::StackOverflow, "{e}");
}

#[test]
fn a_panic_is_reported_with_its_message_and_costs_only_its_row() {
    let rt = runtime(Limits::default());
    let module = unchecked_module(&rt, "fixture-panic");
    let mut batch = Batch::new();
    for id in [1, 2, -7, 3] {
        batch.push_pair(id.to_string(), user(id, "a", 1.0, 1), user(id, if id == 3 { "b" } else { "a" }, 1.0, 1));
    }
    let out = module.compare(&users(), &batch).unwrap();
    assert_eq!(out[0], PairOutcome::Equal);
    assert_eq!(out[1], PairOutcome::Equal);
    match &out[2] {
        PairOutcome::Failed(e) => {
            assert_eq!(e.kind, FailureKind::Panic);
            assert_eq!(e.key.as_deref(), Some("-7"));
            assert!(e.detail.contains("fixture refuses negative id -7"), "{e}");
            assert!(!e.detail.contains('\n'), "one line: {e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&out[3], PairOutcome::Different { columns, .. } if columns == &["email"]));
    assert_eq!(module.stats.failures_of(FailureKind::Panic), 2, "the batch call and the isolated row");
}

#[test]
fn load_time_exercise_refuses_runtime_broken_modules_with_their_class() {
    assert_eq!(exercise_failure("fixture-loop").kind, FailureKind::Timeout);
    assert_eq!(exercise_failure("fixture-memory-bomb").kind, FailureKind::MemoryExhausted);
    assert_eq!(exercise_failure("fixture-recursion").kind, FailureKind::StackOverflow);
    let panic = exercise_failure("fixture-panic");
    assert_eq!(panic.kind, FailureKind::Panic);
    assert_eq!(panic.key.as_deref(), Some("-1"), "the sample row with a negative key");
}

#[test]
fn a_forbidden_import_is_refused_at_load_naming_it() {
    match refused(WASIP2_FIXTURE) {
        LoadError::ForbiddenImport { import, .. } => assert!(import.starts_with("wasi:"), "{import}"),
        other => panic!("{other}"),
    }
    let msg = refused(WASIP2_FIXTURE).to_string();
    assert!(msg.contains("wasm32-unknown-unknown"), "says what to do: {msg}");
}

#[test]
fn a_component_of_another_contract_is_refused() {
    match refused("fixture-wrong-interface") {
        LoadError::WrongInterface { detail } => assert!(detail.contains("movex:plugin/module@0.3.0"), "{detail}"),
        other => panic!("{other}"),
    }
}

#[test]
fn garbage_and_truncated_files_are_refused_not_crashed_on() {
    let reg = registry();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(matches!(reg.load(&garbage), Err(LoadError::NotWasm { .. })));
    assert!(matches!(reg.load(b""), Err(LoadError::NotWasm { .. })));
    let exact = wasm_bytes("exact");
    let cut = &exact[..exact.len() / 2];
    match reg.load(cut) {
        Err(LoadError::NotWasm { detail }) => assert!(detail.contains("invalid wasm"), "{detail}"),
        Err(other) => panic!("truncated: unexpected class {other}"),
        Ok(_) => panic!("a truncated module was accepted"),
    }
    let mut header_only = b"\0asm\x01\0\0\0".to_vec();
    header_only.extend_from_slice(&[0xff; 16]);
    assert!(reg.load(&header_only).is_err());
    assert!(reg.list().is_empty(), "nothing half-loaded");
    // Still able to load a good module afterwards: the compile thread survived.
    assert_eq!(reg.load(&exact).unwrap().module.name(), "exact");
}

#[test]
fn the_host_keeps_serving_other_modules_and_recovers_after_traps() {
    let rt = runtime(Limits::default());
    let reg = Registry::new(rt.clone());
    let exact = reg.load(&wasm_bytes("exact")).unwrap().module;
    let bomb = unchecked_module(&rt, "fixture-memory-bomb");
    let panicky = unchecked_module(&rt, "fixture-panic");
    for round in 0..3 {
        let mut b = Batch::new();
        b.push_pair("1", user(1, "a", 1.0, 1), user(1, "a", 1.0, 1));
        assert!(matches!(bomb.compare(&users(), &b).unwrap()[0], PairOutcome::Failed(_)));
        // The panicking module's next call gets a fresh instance and works.
        assert_eq!(panicky.compare(&users(), &b).unwrap()[0], PairOutcome::Equal, "round {round}");
        let mut neg = Batch::new();
        neg.push_pair("-1", user(-1, "a", 1.0, 1), user(-1, "a", 1.0, 1));
        assert!(matches!(panicky.compare(&users(), &neg).unwrap()[0], PairOutcome::Failed(_)));
        assert_eq!(exact.compare(&users(), &equal_users(10)).unwrap(), vec![PairOutcome::Equal; 10]);
    }
    assert_eq!(bomb.stats.failures_of(FailureKind::MemoryExhausted), 3);
    // The first instance, then a fresh one after each of the first two traps
    // (the third trap's replacement is made when next needed).
    assert_eq!(panicky.stats.snapshot().instances_created, 3, "a new instance after each trap");
}

#[test]
fn a_comparator_given_bad_bytes_answers_with_an_error_not_a_trap() {
    let reg = registry();
    let exact = reg.load(&wasm_bytes("exact")).unwrap().module;
    let mut batch = Batch::new();
    batch.push_pair("1", [Value::Int(1)], [Value::Int(1)]);
    // One-value rows against a four-column layout: the guest runs off the end
    // of the batch, which must come back as a decode error, not a trap.
    let out = exact.compare(&users(), &batch).unwrap();
    match &out[0] {
        PairOutcome::Failed(e) => {
            assert_eq!(e.kind, FailureKind::Refused);
            assert!(e.detail.contains("malformed row encoding"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(exact.compare(&users(), &equal_users(2)).unwrap(), vec![PairOutcome::Equal; 2], "still serving");
}
