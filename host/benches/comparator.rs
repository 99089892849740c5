//! Per-row-pair cost of the same comparison logic (the `exact` example) run
//! natively versus through wasm in batches, and module load times: cold
//! compile, load from the artifact cache, hot swap from a cached artifact,
//! warm restart per module. Prints the ratios at the end, so the figures in
//! BENCHMARKS.md come from one run on one machine.
//!
//! Run: `cargo build-examples && cargo bench -p movex --bench comparator`

use criterion::{BatchSize, Criterion, Throughput};
use movex::wasm::{Batch, Binding, Module, PairOutcome, Registry, Runtime, RuntimeConfig};
use std::sync::Arc;
use movex_guest::batch::{Scratch, compare_batch};
use movex_guest::codec::Reader;
use movex_guest::{Column, Comparator, Kind, Layout, OwnedValue, Row, Settings};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PAIRS: usize = 1024;
const COLUMNS: usize = 10;

fn wasm_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("wasm32-unknown-unknown/release")
}

fn example(name: &str) -> Vec<u8> {
    let path = wasm_dir().join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `cargo build-examples` first", path.display()))
}

/// A 10-column row: id, 3 texts, 2 floats, 2 ints, a decimal, a timestamp-ish int.
fn row(i: usize, differ: bool) -> Vec<OwnedValue> {
    vec![
        OwnedValue::Int(i as i64),
        OwnedValue::Text(format!("user{i}@example.com")),
        OwnedValue::Text(if differ { "Grace".into() } else { "Ada".into() }),
        OwnedValue::Text("Lovelace".into()),
        OwnedValue::Float(i as f64 * 0.5),
        OwnedValue::Float(3.25),
        OwnedValue::Int(42),
        OwnedValue::Uint(7),
        OwnedValue::Decimal("1234.50".into()),
        OwnedValue::Int(1_700_000_000_000 + i as i64),
    ]
}

/// 1024 pairs, 1% different (every 100th pair).
fn pairs() -> Vec<(Vec<OwnedValue>, Vec<OwnedValue>)> {
    (0..PAIRS).map(|i| (row(i, false), row(i, i % 100 == 0))).collect()
}

fn columns() -> Vec<(String, Kind)> {
    let names = ["id", "email", "first", "last", "score", "weight", "age", "visits", "balance", "utime"];
    let kinds = [Kind::Int, Kind::Text, Kind::Text, Kind::Text, Kind::Float, Kind::Float, Kind::Int, Kind::Uint, Kind::Decimal, Kind::Int];
    names.iter().zip(kinds).map(|(n, k)| (n.to_string(), k)).collect()
}

/// The same entity as `row(i, differ)` stored the way another database would:
/// ids unsigned, e-mail with a capital, a float off in the 12th digit, counts
/// signed, the decimal at another scale, the update time cut to seconds.
/// Equal for `tolerant`, different byte for byte.
fn row_elsewhere(i: usize, differ: bool) -> Vec<OwnedValue> {
    let utime = 1_700_000_000_000 + i as i64;
    vec![
        OwnedValue::Uint(i as u64),
        OwnedValue::Text(format!("User{i}@example.com")),
        OwnedValue::Text(if differ { "Grace".into() } else { "Ada".into() }),
        OwnedValue::Text("Lovelace".into()),
        OwnedValue::Float(i as f64 * 0.5 * (1.0 + 1e-12)),
        OwnedValue::Float(3.25),
        OwnedValue::Uint(42),
        OwnedValue::Int(7),
        OwnedValue::Decimal("1234.5".into()),
        OwnedValue::Int(utime - utime % 1000),
    ]
}

/// 1024 pairs from two different databases, 1% really different.
fn heterogeneous_pairs() -> Vec<(Vec<OwnedValue>, Vec<OwnedValue>)> {
    (0..PAIRS).map(|i| (row(i, false), row_elsewhere(i, i % 100 == 0))).collect()
}

fn encode(pairs: &[(Vec<OwnedValue>, Vec<OwnedValue>)]) -> Batch {
    let mut b = Batch::with_capacity(PAIRS * 200);
    for (i, (s, d)) in pairs.iter().enumerate() {
        b.push_pair(i.to_string(), s.iter().map(OwnedValue::as_value), d.iter().map(OwnedValue::as_value));
    }
    b
}

/// The same comparator twice: as a wasm module (`name` from the examples
/// directory) and natively (`C`, the example crate linked into the host),
/// with the binding and layout both are called with.
struct Both<C> {
    _registry: Registry,
    module: Arc<Module>,
    binding: Binding,
    layout: Layout,
    native: C,
}

fn both<C: Comparator>(name: &str) -> Both<C> {
    let registry = Registry::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let module = registry.load(&example(name)).unwrap().module;
    Both {
        _registry: registry,
        module,
        binding: Binding::new("bench", columns(), vec![]),
        layout: Layout::new("bench", columns().into_iter().map(|(name, kind)| Column { name, kind }).collect()),
        native: C::bind(&movex_guest::Binding::settings(&Settings::default())).unwrap(),
    }
}

fn pair_cost(c: &mut Criterion) {
    let pairs = pairs();
    let Both { _registry, module, binding, layout, native } = both::<exact::Exact>("exact");
    // For the compare-only baseline: the rows decoded and indexed up front.
    let (rows_bytes, rows_offsets) = index_rows(&encode(&pairs));
    let rows: Vec<(Row<'_>, Row<'_>)> = rows_offsets
        .iter()
        .map(|(s, d)| (Row::new(&layout, &rows_bytes, s), Row::new(&layout, &rows_bytes, d)))
        .collect();

    let encoded = encode(&pairs);
    let check = module.compare(&binding, &encoded).unwrap();
    assert_eq!(check.iter().filter(|o| !matches!(o, PairOutcome::Equal)).count(), PAIRS / 100 + 1);
    let same = compare_batch(&native, &layout, encoded.bytes(), &mut Scratch::default()).unwrap();
    assert_eq!(same.len(), PAIRS / 100 + 1, "native and wasm do the same work");

    let mut g = c.benchmark_group("pair_cost");
    g.throughput(Throughput::Elements(PAIRS as u64));
    // The same logic on the same bytes: the SDK's batch loop (decode rows,
    // call `exact`), natively here and inside the wasm guest below.
    let mut scratch = Scratch::default();
    g.bench_function("native", |b| {
        b.iter(|| black_box(compare_batch(&native, &layout, encoded.bytes(), &mut scratch).unwrap()))
    });
    g.bench_function("wasm", |b| b.iter(|| black_box(module.compare(&binding, &encoded).unwrap())));
    // Starting from the host's values: encode, then compare.
    g.bench_function("native_incl_encode", |b| {
        b.iter(|| black_box(compare_batch(&native, &layout, encode(&pairs).bytes(), &mut scratch).unwrap()))
    });
    g.bench_function("wasm_incl_encode", |b| {
        b.iter(|| black_box(module.compare(&binding, &encode(&pairs)).unwrap()))
    });
    // The strictest baseline: only the comparison, on rows indexed already.
    g.bench_function("native_compare_only", |b| {
        b.iter(|| black_box(rows.iter().filter(|(s, d)| !native.compare(s, d).is_equal()).count()))
    });
    g.finish();
}

/// The `tolerant` example on pairs that are equal but encoded differently,
/// as between MySQL and PostgreSQL: every column goes through its rule.
fn pair_cost_heterogeneous(c: &mut Criterion) {
    let pairs = heterogeneous_pairs();
    let Both { _registry, module, binding, layout, native } = both::<tolerant::Tolerant>("tolerant");
    let encoded = encode(&pairs);
    let wasm_found = module.compare(&binding, &encoded).unwrap().iter().filter(|o| !matches!(o, PairOutcome::Equal)).count();
    let native_found = compare_batch(&native, &layout, encoded.bytes(), &mut Scratch::default()).unwrap().len();
    assert_eq!((wasm_found, native_found), (PAIRS / 100 + 1, PAIRS / 100 + 1), "only the seeded differences");

    let mut g = c.benchmark_group("pair_cost_heterogeneous");
    g.throughput(Throughput::Elements(PAIRS as u64));
    let mut scratch = Scratch::default();
    g.bench_function("native", |b| {
        b.iter(|| black_box(compare_batch(&native, &layout, encoded.bytes(), &mut scratch).unwrap()))
    });
    g.bench_function("wasm", |b| b.iter(|| black_box(module.compare(&binding, &encoded).unwrap())));
    g.finish();
}

/// Every row of an encoded batch, indexed: (bytes, [(src offsets, dst offsets)]).
fn index_rows(batch: &Batch) -> (Vec<u8>, Vec<(Vec<u32>, Vec<u32>)>) {
    let bytes = batch.bytes().to_vec();
    let mut r = Reader::new(&bytes);
    let n = r.count().unwrap();
    let row = |r: &mut Reader<'_>| {
        let mut offs: Vec<u32> = (0..COLUMNS).map(|_| r.skip().unwrap() as u32).collect();
        offs.push(r.position() as u32);
        offs
    };
    let offsets = (0..n).map(|_| (row(&mut r), row(&mut r))).collect();
    (bytes, offsets)
}

/// `bytes` with a custom section appended: the same module, another hash.
fn variant(bytes: &[u8], n: u8) -> Vec<u8> {
    let name = b"movex-bench-variant";
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, (1 + name.len() + 1) as u8, name.len() as u8]);
    out.extend_from_slice(name);
    out.push(n);
    out
}

fn load_times(c: &mut Criterion) {
    let exact = example("exact");
    let cache = tempfile::tempdir().unwrap();
    let cached = || Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() }).unwrap();

    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    g.bench_function("compile_cold", |b| b.iter(|| black_box(uncached.prepare(&exact).unwrap())));

    let rt = cached();
    rt.prepare(&exact).unwrap();
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.bench_function("load_from_cache", |b| b.iter(|| black_box(rt.prepare(&exact).unwrap())));

    // Hot swap: replace the serving version with another, both cached:
    // load artifact, instantiate, describe, exercise, publish.
    let (v1, v2) = (variant(&exact, 1), variant(&exact, 2));
    let registry = Registry::new(rt.clone());
    registry.load(&v1).unwrap();
    registry.load(&v2).unwrap();
    let mut flip = false;
    g.bench_function("swap_from_cache", |b| {
        b.iter(|| {
            flip = !flip;
            black_box(registry.load(if flip { &v1 } else { &v2 }).unwrap())
        })
    });

    // Warm restart: a new runtime warms up a directory of the four examples
    // from the cache. Per module = this / 4.
    let dir = tempfile::tempdir().unwrap();
    for name in ["exact", "tolerant", "tag-by-column", "promote-when-clean"] {
        std::fs::write(dir.path().join(format!("{name}.wasm")), example(name)).unwrap();
    }
    movex::wasm::warm_up(&Registry::new(cached()), dir.path()).unwrap();
    g.bench_function("warm_restart_4_modules", |b| {
        b.iter_batched(
            || Registry::new(cached()),
            |reg| {
                let w = movex::wasm::warm_up(&reg, dir.path()).unwrap();
                assert_eq!(w.success_count, 4);
                black_box(reg)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Mean time per iteration of a finished benchmark, from criterion's output.
fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("criterion").join(group).join(bench).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn summary() {
    let per_pair = |b| mean_ns("pair_cost", b).map(|ns| ns / PAIRS as f64);
    println!("\n== movex benchmark summary (this run) ==");
    if let (Some(n), Some(w), Some(ne), Some(we)) =
        (per_pair("native"), per_pair("wasm"), per_pair("native_incl_encode"), per_pair("wasm_incl_encode"))
    {
        println!("per row pair ({COLUMNS} columns, batches of {PAIRS}, 1% different), the `exact` comparator:");
        println!("  same batch bytes:    native {n:7.1} ns   wasm {w:7.1} ns   wasm/native {:.2}x", w / n);
        println!("  from host values:    native {ne:7.1} ns   wasm {we:7.1} ns   wasm/native {:.2}x", we / ne);
    }
    if let (Some(only), Some(w)) = (per_pair("native_compare_only"), per_pair("wasm")) {
        println!("  native compare only, rows indexed up front: {only:.1} ns (wasm on batch bytes: {:.1}x)", w / only);
    }
    let het = |b| mean_ns("pair_cost_heterogeneous", b).map(|ns| ns / PAIRS as f64);
    if let (Some(n), Some(w)) = (het("native"), het("wasm")) {
        println!("per row pair, equal rows encoded differently (MySQL vs PostgreSQL style), the `tolerant` comparator:");
        println!("  same batch bytes:    native {n:7.1} ns   wasm {w:7.1} ns   wasm/native {:.2}x", w / n);
    }
    let ms = |b| mean_ns("load", b).map(|ns| ns / 1e6);
    if let (Some(cold), Some(hit), Some(swap), Some(warm)) =
        (ms("compile_cold"), ms("load_from_cache"), ms("swap_from_cache"), ms("warm_restart_4_modules"))
    {
        println!("loading the `exact` example:");
        println!("  compile (cold)                {cold:8.2} ms");
        println!("  load from cache               {hit:8.3} ms   ({:.0}x faster)", cold / hit);
        println!("  hot swap from cache           {swap:8.3} ms");
        println!("  warm restart, per module      {:8.3} ms   (4 examples)", warm / 4.0);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    pair_cost(&mut c);
    pair_cost_heterogeneous(&mut c);
    load_times(&mut c);
    c.final_summary();
    summary();
}
