//! The runtime with the real example modules: what they describe, what they
//! answer (checked against the same Rust code run natively), instance reuse,
//! the artifact cache and warm-up.

use movex::wasm::{Batch, Binding, Capability, PairOutcome, Registry, Runtime, RuntimeConfig, WarmupStatus};
use movex_guest::{Action, Comparator, Kind, OwnedValue, RowBuf, Settings, Stats, Value};
use movex_tests::*;

#[test]
fn examples_describe_themselves_by_name_whatever_their_file_is_called() {
    let reg = registry();
    let want = [
        ("exact", Capability::Comparator),
        ("tolerant", Capability::Comparator),
        ("tag-by-column", Capability::Tagger),
        ("promote-when-clean", Capability::Policy),
    ];
    for (package, (name, cap)) in EXAMPLES.iter().zip(want) {
        // Copy under an unrelated file name: the module is known by its description.
        let dir = tempfile::tempdir().unwrap();
        let renamed = dir.path().join("renamed-anything.wasm");
        std::fs::copy(wasm(package), &renamed).unwrap();
        let loaded = reg.load(&std::fs::read(&renamed).unwrap()).unwrap();
        assert_eq!(loaded.module.name(), name);
        assert_eq!(loaded.module.description.capabilities, vec![cap]);
        assert_eq!(loaded.module.description.version, "0.1.0");
        assert!(reg.get(name).is_some());
    }
    assert_eq!(reg.list().len(), 4);
}

/// Pairs covering every value kind: equal, and different in one column.
fn every_kind_pairs() -> Vec<(String, Vec<OwnedValue>, Vec<OwnedValue>)> {
    use movex_guest::{Date, Time, Timestamp};
    let base: Vec<OwnedValue> = vec![
        OwnedValue::Int(-5),
        OwnedValue::Null,
        OwnedValue::Bool(true),
        OwnedValue::Uint(u64::MAX),
        OwnedValue::Float(2.5),
        OwnedValue::Decimal("-123456789012345678901234567890.000001".into()),
        OwnedValue::Text("zwölf".into()),
        OwnedValue::Bytes(vec![0, 1, 255]),
        OwnedValue::Date(Date { year: 0, month: 0, day: 0 }),
        OwnedValue::Time(Time { micros: -838 * 3_600_000_000 }),
        OwnedValue::Timestamp(Timestamp { date: Date { year: 2038, month: 1, day: 19 }, micros_of_day: 11_647_999_999 }),
        OwnedValue::Json(r#"{"k":[1,2,3]}"#.into()),
    ];
    let changed: Vec<OwnedValue> = vec![
        OwnedValue::Int(-6),
        OwnedValue::Text("".into()),
        OwnedValue::Bool(false),
        OwnedValue::Uint(u64::MAX - 1),
        OwnedValue::Float(2.5000001),
        OwnedValue::Decimal("-123456789012345678901234567890.000002".into()),
        OwnedValue::Text("zwolf".into()),
        OwnedValue::Bytes(vec![0, 1, 254]),
        OwnedValue::Date(Date { year: 0, month: 0, day: 1 }),
        OwnedValue::Time(Time { micros: -838 * 3_600_000_000 + 1 }),
        OwnedValue::Timestamp(Timestamp { date: Date { year: 2038, month: 1, day: 19 }, micros_of_day: 11_648_000_000 }),
        OwnedValue::Json(r#"{"k":[1,2,4]}"#.into()),
    ];
    let mut pairs = vec![("equal".to_owned(), base.clone(), base.clone())];
    for i in 0..base.len() {
        let mut dst = base.clone();
        dst[i] = changed[i].clone();
        pairs.push((format!("col{i}"), base.clone(), dst));
    }
    pairs
}

fn kinds_binding() -> Binding {
    let cols = (0..12).map(|i| (format!("c{i}"), Kind::Text)).collect();
    Binding::new("kinds", cols, vec![])
}

#[test]
fn every_value_kind_crosses_the_boundary_without_loss() {
    let reg = registry();
    let exact = reg.load(&wasm_bytes("exact")).unwrap().module;
    let mut batch = Batch::new();
    let pairs = every_kind_pairs();
    for (key, src, dst) in &pairs {
        batch.push_pair(key.clone(), src.iter().map(OwnedValue::as_value), dst.iter().map(OwnedValue::as_value));
    }
    let out = exact.compare(&kinds_binding(), &batch).unwrap();
    assert_eq!(out[0], PairOutcome::Equal, "identical rows of every kind compare equal");
    for (i, o) in out.iter().enumerate().skip(1) {
        match o {
            PairOutcome::Different { columns, .. } => assert_eq!(columns, &[format!("c{}", i - 1)]),
            other => panic!("pair {i} ({}): expected one differing column, got {other:?}", pairs[i].0),
        }
    }
}

#[test]
fn wasm_comparators_agree_with_the_same_code_run_natively() {
    let reg = registry();
    for (name, native) in [
        ("exact", Box::new(|s: &RowBuf, d: &RowBuf| native::<exact::Exact>(s, d)) as Box<dyn Fn(&RowBuf, &RowBuf) -> _>),
        ("tolerant", Box::new(|s: &RowBuf, d: &RowBuf| native::<tolerant::Tolerant>(s, d))),
    ] {
        let module = reg.load(&wasm_bytes(name)).unwrap().module;
        let binding = users();
        let mut batch = Batch::new();
        let mut natives = Vec::new();
        for i in 0..300i64 {
            let id = i - 150; // negative and zero keys are ordinary keys
            let src = user(id, "Ada@x.io", id as f64 * 0.1, 1_700_000_000_000 + i * 7);
            let dst = match i % 5 {
                0 => src,
                1 => user(id, "ada@x.io", id as f64 * 0.1, 1_700_000_000_000 + i * 7),
                2 => user(id, "Ada@x.io", id as f64 * 0.1 + 1e-9, 1_700_000_000_000 + i * 7),
                3 => user(id, "Ada@x.io", id as f64 * 0.1, 1_700_000_000_000 + i * 7 + 400),
                _ => user(id, "bob@x.io", 99.0, 0),
            };
            natives.push(native(&row_of(&src), &row_of(&dst)));
            batch.push_pair(id.to_string(), src, dst);
        }
        let wasm = module.compare(&binding, &batch).unwrap();
        let different = wasm.iter().filter(|o| matches!(o, PairOutcome::Different { .. })).count();
        assert!(different > 0 && different < 300, "{name}: a mix of verdicts ({different} different)");
        for (i, (w, n)) in wasm.iter().zip(&natives).enumerate() {
            let w_cols = match w {
                PairOutcome::Equal => None,
                PairOutcome::Different { columns, .. } => Some(columns.clone()),
                other => panic!("{name} pair {i}: {other:?}"),
            };
            assert_eq!(w_cols.as_deref(), n.as_deref(), "{name} pair {i}: wasm and native disagree");
        }
    }
}

fn row_of(values: &[Value<'static>; 4]) -> RowBuf {
    ["id", "email", "score", "utime"].iter().zip(values).fold(RowBuf::new(), |r, (n, v)| r.col(n, v.to_owned_value()))
}

fn native<C: Comparator>(src: &RowBuf, dst: &RowBuf) -> Option<Vec<String>> {
    let c = C::bind(&movex_guest::Binding::settings(&Settings::default())).unwrap();
    let v = c.compare(&src.row(), &dst.row());
    (!v.is_equal()).then(|| v.columns().to_vec())
}

#[test]
fn tagger_and_policy_run_with_settings_from_config() {
    let reg = registry();
    let tagger = reg.load(&wasm_bytes("tag-by-column")).unwrap().module;
    let binding = Binding::new(
        "users",
        vec![("id".into(), Kind::Int), ("tier".into(), Kind::Text)],
        vec![("column".into(), "tier".into()), ("suffix".into(), "_user".into())],
    );
    let mut batch = Batch::new();
    batch.push_row("1", [Value::Int(1), Value::Text("vip")]);
    batch.push_row("2", [Value::Int(2), Value::Null]);
    let tags: Vec<_> = tagger.tag(&binding, &batch).unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(tags, vec![Some("vip_user".to_owned()), None]);

    let unbound = Binding::new("users", vec![("id".into(), Kind::Int)], vec![]);
    let err = tagger.tag(&unbound, &batch).unwrap().remove(0).unwrap_err();
    assert_eq!(err.kind, movex::wasm::FailureKind::BindingRefused);
    assert!(err.detail.contains("column"), "{err}");

    let policy = reg.load(&wasm_bytes("promote-when-clean")).unwrap().module;
    let settings = Binding::settings(vec![("clean_runs".into(), "2".into()), ("rollback_ratio".into(), "0.05".into())]);
    let stats = |state: &str, clean, neq| Stats {
        state: state.into(),
        consecutive_clean_runs: clean,
        rows_checked: 1000,
        discrepancies: vec![("neq".into(), neq)],
        ..Stats::default()
    };
    assert_eq!(policy.decide(&settings, &stats("src_first", 2, 0)).unwrap().action, Action::Promote("dst_first".into()));
    assert_eq!(policy.decide(&settings, &stats("src_first", 1, 0)).unwrap().action, Action::Stay);
    assert_eq!(policy.decide(&settings, &stats("dst_first", 0, 60)).unwrap().action, Action::Rollback("src_first".into()));
}

#[test]
fn a_tagger_error_costs_its_row_only_and_a_panic_is_pinned_on_its_row() {
    let reg = registry();
    let tagger = reg.load(&wasm_bytes("fixture-tagger")).unwrap().module;
    let binding = Binding::new("t", vec![("id".into(), Kind::Int)], vec![]);
    let batch_of = |ids: &[i64]| {
        let mut b = Batch::new();
        for id in ids {
            b.push_row(id.to_string(), [Value::Int(*id)]);
        }
        b
    };
    let calls = tagger.stats.snapshot().calls;
    let tags = tagger.tag(&binding, &batch_of(&[1, 2, -3, -4, -5, -6, 7])).unwrap();
    assert_eq!(tagger.stats.snapshot().calls, calls + 1, "per-row errors need no re-run");
    let errs: Vec<_> = tags.iter().filter_map(|t| t.as_ref().err()).collect();
    assert_eq!(errs.len(), 4, "four negative ids, each its own error");
    assert!(errs.iter().all(|e| e.kind == movex::wasm::FailureKind::Refused));
    assert_eq!(errs[0].key.as_deref(), Some("-3"));
    assert!(errs[0].detail.contains("negative id -3"), "{}", errs[0]);
    assert_eq!(tags[6].as_ref().unwrap().as_deref(), Some("odd"), "rows after the errors are tagged");

    let tags = tagger.tag(&binding, &batch_of(&[2, 13, -1, 4])).unwrap();
    assert_eq!(tags[0].as_ref().unwrap().as_deref(), Some("even"));
    let panic = tags[1].as_ref().unwrap_err();
    assert_eq!((panic.kind, panic.key.as_deref()), (movex::wasm::FailureKind::Panic, Some("13")));
    assert_eq!(tags[2].as_ref().unwrap_err().key.as_deref(), Some("-1"), "keys right on re-run rows too");
    assert_eq!(tags[3].as_ref().unwrap().as_deref(), Some("even"));
}

#[test]
fn bindings_are_keyed_by_content_and_instances_retire_before_they_hoard() {
    let reg = registry();
    let exact = reg.load(&wasm_bytes("exact")).unwrap().module;
    assert_eq!(users().id(), users().id(), "same table, layout and settings: same binding");
    let before = exact.stats.snapshot().instances_created;
    for _ in 0..300 {
        // A fresh `Binding` per call, as a validator might make per run.
        exact.compare(&users(), &equal_users(1)).unwrap();
    }
    assert_eq!(exact.stats.snapshot().instances_created, before, "one binding, one instance");
    for t in 0..300 {
        let b = Binding::new(format!("t{t}"), vec![("id".into(), Kind::Int)], vec![]);
        let mut batch = Batch::new();
        batch.push_pair("1", [Value::Int(1)], [Value::Int(1)]);
        assert_eq!(exact.compare(&b, &batch).unwrap(), vec![PairOutcome::Equal]);
    }
    let max = movex::wasm::module::MAX_BINDINGS_PER_INSTANCE as u64;
    assert_eq!(exact.stats.snapshot().instances_created, before + 300 / (max + 1), "retired after {max} bindings");
}

#[test]
fn a_module_is_exercised_with_the_settings_it_is_configured_with() {
    let reg = registry();
    let skipped = reg.load(&wasm_bytes("tag-by-column")).unwrap();
    assert!(skipped.exercises[0].skipped, "no settings: the exercise cannot bind");
    reg.unload("tag-by-column");
    reg.set_settings("tag-by-column", vec![("column".into(), "tier".into())]);
    let ran = reg.load(&wasm_bytes("tag-by-column")).unwrap();
    assert!(!ran.exercises[0].skipped, "{}", ran.exercises[0].summary);
    assert!(ran.exercises[0].summary.contains("tagged"), "{}", ran.exercises[0].summary);
}

#[test]
fn a_module_is_only_called_for_what_it_describes() {
    let reg = registry();
    let policy = reg.load(&wasm_bytes("promote-when-clean")).unwrap().module;
    let err = policy.compare(&users(), &equal_users(1)).unwrap_err();
    assert_eq!(err.capability, Capability::Comparator);
    assert!(err.detail.contains("not a comparator"), "{err}");
}

#[test]
fn instances_are_reused_across_batches_not_made_per_row() {
    let reg = registry();
    let exact = reg.load(&wasm_bytes("exact")).unwrap().module;
    let before = exact.stats.snapshot();
    let batch = equal_users(256);
    for _ in 0..50 {
        assert!(exact.compare(&users(), &batch).unwrap().iter().all(|o| *o == PairOutcome::Equal));
    }
    let after = exact.stats.snapshot();
    assert_eq!(after.calls - before.calls, 50, "one guest call per batch");
    assert_eq!(after.instances_created, before.instances_created, "the warm instance served every batch");
}

#[test]
fn a_restart_loads_modules_from_the_artifact_cache() {
    let cache = tempfile::tempdir().unwrap();
    let config = || RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() };
    let bytes = wasm_bytes("tolerant");

    let first = Registry::new(Runtime::new(config()).unwrap()).load(&bytes).unwrap().module;
    assert!(!first.cache_hit, "nothing cached yet");
    let artifacts: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(artifacts.len(), 1, "one artifact written");

    // A new runtime is what a restart gets.
    let second = Registry::new(Runtime::new(config()).unwrap()).load(&bytes).unwrap().module;
    assert!(second.cache_hit, "loaded from the cache");
    assert_eq!(second.hash, first.hash);
    assert_eq!(second.compare(&users(), &equal_users(3)).unwrap(), vec![PairOutcome::Equal; 3]);

    // A damaged artifact is discarded and the module recompiled, not trusted.
    let path = artifacts[0].as_ref().unwrap().path();
    std::fs::write(&path, b"damaged").unwrap();
    let third = Registry::new(Runtime::new(config()).unwrap()).load(&bytes).unwrap().module;
    assert!(!third.cache_hit);
    assert_eq!(third.compare(&users(), &equal_users(3)).unwrap(), vec![PairOutcome::Equal; 3]);
    assert!(std::fs::metadata(&path).unwrap().len() > 1000, "artifact rewritten");
}

#[test]
fn warm_up_loads_a_directory_and_reports_for_health() {
    let dir = tempfile::tempdir().unwrap();
    for p in EXAMPLES {
        std::fs::copy(wasm(p), dir.path().join(format!("{p}.wasm"))).unwrap();
    }
    std::fs::copy(wasm("exact"), dir.path().join("zz-exact-again.wasm")).unwrap();
    std::fs::write(dir.path().join("junk.wasm"), b"not wasm at all").unwrap();
    std::fs::write(dir.path().join("README.txt"), b"ignored: not .wasm").unwrap();

    let reg = registry();
    let w = movex::wasm::warm_up(&reg, dir.path()).unwrap();
    assert_eq!(w.status, WarmupStatus::Failed, "two files were refused");
    assert_eq!(w.total_modules, 6);
    assert_eq!(w.success_count, 4);
    let mut names = w.modules.clone();
    names.sort();
    assert_eq!(names, ["exact", "promote-when-clean", "tag-by-column", "tolerant"]);
    let junk = w.failures.iter().find(|f| f.file.ends_with("junk.wasm")).expect("junk refused");
    assert!(junk.error.contains("not a wasm"), "{}", junk.error);
    let dup = w.failures.iter().find(|f| f.file.ends_with("zz-exact-again.wasm")).expect("duplicate refused");
    assert!(dup.error.contains("exact.wasm"), "names the file that has the name: {}", dup.error);

    let json = serde_json::to_value(&w).unwrap();
    for field in ["status", "modules", "totalModules", "successCount", "elapsed", "elapsedMs", "timestamp"] {
        assert!(json.get(field).is_some(), "/health field {field}");
    }
    assert_eq!(json["status"], "failed");
    let reports = movex::wasm::reports(&reg);
    let exact = reports.iter().find(|r| r.name == "exact").unwrap();
    let r = serde_json::to_value(exact).unwrap();
    for field in ["hash", "size", "load_ms", "cache_hit", "calls", "failures"] {
        assert!(r.get(field).is_some(), "per-module field {field}");
    }
    assert_eq!(exact.hash.len(), 64);
    assert!(exact.stats.calls >= 2, "describe and the exercise ran");

    let empty = tempfile::tempdir().unwrap();
    let w = movex::wasm::warm_up(&registry(), empty.path()).unwrap();
    assert_eq!((w.status, w.total_modules), (WarmupStatus::Completed, 0));
    assert!(movex::wasm::warm_up(&registry(), &empty.path().join("missing")).is_err());
}
