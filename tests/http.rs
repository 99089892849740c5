//! The control plane in-process: every route with its envelope and error
//! paths, the token, restart persistence, and auto-migrate driven by the
//! built-in policy with and without differences. Databases: SQLite files
//! (the embedded default), so these tests need no server.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use movex::config::Config;
use movex::migration::Migration;
use movex::model::{Pattern, State};
use movex_tests::dbs;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const TABLE: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, tier TEXT, utime INTEGER);";

/// Source and destination with 50 equal rows; `diff` corrupts two on the destination.
async fn setup(dir: &Path, diff: bool, extra: &str) -> Config {
    setup_table(dir, diff, extra, "").await
}

/// As [`setup`], with `table_extra` added to the `users` table's section.
async fn setup_table(dir: &Path, diff: bool, extra: &str, table_extra: &str) -> Config {
    let rows: Vec<String> = (1..=50).map(|i| format!("({i}, 'user{i}', 'gold', {})", 1000 + i)).collect();
    let insert = format!("INSERT INTO users VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir, "src", &format!("{TABLE}{insert}")).await;
    let corrupt = if diff { "UPDATE users SET name = 'corrupt' WHERE id IN (3, 30);" } else { "" };
    let dst = dbs::sqlite(dir, "dst", &format!("{TABLE}{insert}{corrupt}")).await;
    let table = format!("[[tables]]\nname = \"users\"\nkey = [\"id\"]\nutime = {{ column = \"utime\", unit = \"ms\" }}\ncomparator = \"exact\"\ntagger = \"tag-by-column\"\n{table_extra}\n");
    let (path, _) = dbs::config(dir, &src, &dst, &format!("[policy]\ninterval_ms = 0\n{extra}"), &table);
    Config::load(&path).unwrap()
}

async fn call(app: &Router, method: &str, uri: &str, body: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())))
}

async fn start(config: Config, token: Option<&str>) -> (Router, Arc<Migration>) {
    let m = Migration::open(config).await.unwrap();
    (movex::http::router(m.clone(), token.map(str::to_owned), 1 << 20), m)
}

/// `/status`'s data once `done` holds.
async fn wait_for(app: &Router, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    poll(app, "/status", what, done).await
}

/// `data` of `GET path` once `done` holds (60 s at most).
async fn poll(app: &Router, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = call(app, "GET", path, "", None).await;
        if done(&r["data"]) {
            return r["data"].clone();
        }
        assert!(Instant::now() < deadline, "{what}: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_stats_and_health_answer_with_the_original_envelope_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "").await, None).await;
    let (code, s) = call(&app, "GET", "/status", "", None).await;
    assert_eq!((code, &s["code"], &s["msg"]), (StatusCode::OK, &json!(0), &json!("OK")));
    let d = &s["data"];
    assert_eq!((&d["current_state"], &d["current_pattern"]), (&json!("initial"), &json!("src_only")));
    for field in ["start_time", "current_state", "full_validation_runs", "incr_validation_runs", "data_discrepancies", "last_error"] {
        assert!(d["migration_stats"].get(field).is_some(), "migration_stats.{field} in {d}");
    }
    assert_eq!(d["pool_health"], json!({}), "empty when both databases answer");
    for field in ["DoubleWriteSuccess", "DoubleWriteFailure", "QueryDuration"] {
        assert!(d["pool_metrics"].get(field).is_some(), "pool_metrics.{field}");
    }
    assert!(d["uptime"].as_str().unwrap().ends_with('s'));
    let (_, stats) = call(&app, "GET", "/stats", "", None).await;
    assert_eq!(stats["data"]["current_state"], "initial");
    let (code, h) = call(&app, "GET", "/health", "", None).await;
    assert_eq!((code, &h["code"]), (StatusCode::OK, &json!(0)));
    for field in ["status", "modules", "totalModules", "successCount", "elapsed", "elapsedMs", "timestamp"] {
        assert!(h["data"]["warmup"].get(field).is_some(), "warmup.{field} in {h}");
    }
    assert_eq!(h["data"]["warmup"]["status"], "completed");
    let (code, metrics) = call(&app, "GET", "/metrics", "", None).await;
    let text = metrics.as_str().unwrap();
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("movex_migration_state{state=\"initial\"} 1") && text.ends_with("# EOF\n"), "{text}");
    let (code, nope) = call(&app, "GET", "/nope", "", None).await;
    assert_eq!((code, &nope["code"]), (StatusCode::NOT_FOUND, &json!(5)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_database_makes_health_503_with_the_go_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup(dir.path(), false, "[pool]\nconnect_timeout_ms = 300\nhealth_timeout_ms = 500").await;
    config.destination.url = "postgres://postgres@127.0.0.1:1/nowhere".into();
    let (app, _) = start(config, None).await;
    let (code, h) = call(&app, "GET", "/health", "", None).await;
    assert_eq!((code, &h["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!(5)), "{h}");
    assert!(h["data"]["dst"].is_string() && h["data"].get("src").is_none(), "{h}");
    let (_, s) = call(&app, "GET", "/status", "", None).await;
    assert!(s["data"]["pool_health"]["dst"].is_string(), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pattern_routes_move_one_step_record_history_and_refuse_bad_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (app, m) = start(setup(dir.path(), false, "").await, None).await;
    let (code, r) = call(&app, "POST", "/src_only", "", None).await;
    assert_eq!((code, &r["code"], &r["data"]["to"]), (StatusCode::OK, &json!(0), &json!("src_only")), "{r}");
    let (code, r) = call(&app, "POST", "/dst_only", "", None).await;
    assert_eq!((code, &r["code"]), (StatusCode::CONFLICT, &json!(5)));
    assert!(r["msg"].as_str().unwrap().contains("force"), "{r}");
    let (code, r) = call(&app, "POST", "/src_first", r#"{"reason": "backfill done"}"#, None).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(m.pool.pattern(), Pattern::SrcFirst, "the pool writes by the new pattern");
    let (code, r) = call(&app, "POST", "/dst_only", r#"{"force": true, "reason": "drill"}"#, None).await;
    assert_eq!((code, &r["data"]["forced"]), (StatusCode::OK, &json!(true)), "{r}");
    for (body, needle) in [("{", "malformed body"), (r#"{"forse": true}"#, "unknown field `forse`"), (r#"{"force": "yes"}"#, "invalid type")] {
        let (code, r) = call(&app, "POST", "/dst_first", body, None).await;
        assert_eq!((code, &r["code"]), (StatusCode::BAD_REQUEST, &json!(400)), "{body}: {r}");
        assert!(r["msg"].as_str().unwrap().contains(needle), "{body}: {r}");
    }
    let (_, h) = call(&app, "GET", "/history", "", None).await;
    let moves: Vec<(String, String, String)> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["to"].as_str().unwrap().into(), t["by"].as_str().unwrap().into(), t["reason"].as_str().unwrap().into()))
        .collect();
    assert_eq!(moves[0], ("dst_only".into(), "POST /dst_only".into(), "drill".into()));
    assert_eq!(moves[1].2, "backfill done");
    assert_eq!(moves.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_draws_the_state_machine_from_the_current_state_with_the_time_in_it_and_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "").await, None).await;
    let moves = |d: &Value| -> Vec<String> {
        d["machine"].as_array().unwrap().iter().map(|m| format!("{} {} {} {}", m["state"], m["pattern"], m["route"], m["move"]).replace('"', "")).collect()
    };
    let (_, s) = call(&app, "GET", "/status", "", None).await;
    let d = &s["data"];
    assert_eq!(moves(d)[..2], ["initial src_only null current", "src_only src_only /src_only step"], "{d}");
    assert_eq!((&d["state_ms"], &d["journal_stored"], &d["journal_waiting"]), (&Value::Null, &json!(0), &json!(0)), "no move yet: {d}");
    for route in ["/src_only", "/src_first"] {
        assert_eq!(call(&app, "POST", route, "", None).await.0, StatusCode::OK);
    }
    let (_, s) = call(&app, "GET", "/status", "", None).await;
    let d = &s["data"];
    assert_eq!(
        moves(d),
        [
            "initial src_only null none",
            "src_only src_only /src_only step",
            "src_first src_first /src_first current",
            "dst_first dst_first /dst_first step",
            "dst_only dst_only /dst_only force",
            "completed dst_only /completed force",
        ],
        "{d}"
    );
    assert!(d["state_ms"].as_u64().is_some_and(|ms| ms < 600_000), "time in src_first: {d}");
    // Each move the machine offers is one the route takes: a step as it
    // is, a forced one with force only.
    let (code, _) = call(&app, "POST", "/dst_only", "", None).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(call(&app, "POST", "/dst_first", "", None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operators_page_is_served_open_with_its_types_and_caching_and_root_redirects_to_it() {
    let dir = tempfile::tempdir().unwrap();
    // With a token: the page's files hold no data and are open all the same.
    let (app, _) = start(setup(dir.path(), false, "").await, Some("s3cret")).await;
    for uri in ["/", "/ui"] {
        let (code, headers, _) = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!((code, headers["location"].to_str().unwrap()), (StatusCode::TEMPORARY_REDIRECT, "ui/"), "GET {uri}");
    }
    // Every file of ui/dist is served, with its bytes and its type.
    let dist = movex_tests::workspace_root().join("ui/dist");
    let mut files: Vec<String> = std::fs::read_dir(&dist).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["index.html", "main.css", "main.js"], "ui/dist holds what host/src/http/ui.rs embeds");
    for (file, ty) in [("index.html", "text/html"), ("main.js", "text/javascript"), ("main.css", "text/css")] {
        let uri = if file == "index.html" { "/ui/".to_owned() } else { format!("/ui/{file}") };
        let resp = app.clone().oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(status, StatusCode::OK, "GET {uri}");
        assert!(headers["content-type"].to_str().unwrap().starts_with(ty), "GET {uri}: {headers:?}");
        assert_eq!(bytes, std::fs::read(dist.join(file)).unwrap(), "GET {uri} serves ui/dist/{file} as built");
        assert_eq!((headers["cache-control"].to_str().unwrap(), headers["x-content-type-options"].to_str().unwrap()), ("no-cache", "nosniff"), "GET {uri}");
        // Asked again with its ETag: not modified, nothing sent.
        let etag = headers["etag"].clone();
        let (code, again, body) = send(&app, Request::get(&uri).header("if-none-match", etag.clone()).body(Body::empty()).unwrap()).await;
        assert_eq!((code, &again["etag"], &body), (StatusCode::NOT_MODIFIED, &etag, &json!("")), "GET {uri} with If-None-Match");
    }
    let (_, headers, _) = send(&app, Request::get("/ui/").body(Body::empty()).unwrap()).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let (code, _, r) = send(&app, Request::get("/ui/nope.js").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(is_envelope(&r, 5) && r["msg"].as_str().unwrap().contains("/ui/"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validations_start_stop_and_report_discrepancies() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), true, "").await, None).await;
    let (code, r) = call(&app, "POST", "/full/start", "", None).await;
    assert_eq!((code, &r["code"]), (StatusCode::OK, &json!(0)));
    let d = wait_for(&app, "a full run", |d| d["migration_stats"]["full_validation_runs"] == 1).await;
    assert_eq!(d["migration_stats"]["data_discrepancies"], 2);
    let (_, cur) = call(&app, "GET", "/validations/current", "", None).await;
    assert_eq!((&cur["data"][0]["kind"], &cur["data"][0]["tables"][0]["rows_base"]), (&json!("full"), &json!(50)), "{cur}");
    let (_, f) = call(&app, "GET", "/discrepancies?type=neq&table=users&limit=1", "", None).await;
    assert_eq!(f["data"]["items"].as_array().unwrap().len(), 1);
    let next = f["data"]["next"].as_i64().expect("a second page");
    let (_, f2) = call(&app, "GET", &format!("/discrepancies?type=neq&after={next}"), "", None).await;
    let keys: Vec<&Value> = [&f["data"]["items"][0]["key"], &f2["data"]["items"][0]["key"]].into();
    assert_eq!(keys, [&json!(3), &json!(30)]);
    assert_eq!(f2["data"]["items"][0]["tag"], "gold");
    for q in ["/discrepancies?type=bogus", "/discrepancies?bogus=1", "/discrepancies?limit=x"] {
        let (code, r) = call(&app, "GET", q, "", None).await;
        assert_eq!((code, &r["code"]), (StatusCode::BAD_REQUEST, &json!(400)), "{q}: {r}");
    }
    for (body, needle) in [("", "`utime`"), (r#"{"utime": "x"}"#, "invalid type"), (r#"{"utime": 1, "every": 5}"#, "unknown field")] {
        let (code, r) = call(&app, "POST", "/incr/start", body, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {r}");
        assert!(r["msg"].as_str().unwrap().contains(needle), "{body}: {r}");
    }
    let (code, _) = call(&app, "POST", "/incr/start", r#"{"utime": 0, "interval": 100}"#, None).await;
    assert_eq!(code, StatusCode::OK);
    // A polling run stores its findings as it goes (its counters land when it stops).
    let deadline = Instant::now() + Duration::from_secs(60);
    while call(&app, "GET", "/discrepancies", "", None).await.1["data"]["items"].as_array().unwrap().len() < 4 {
        assert!(Instant::now() < deadline, "the incremental run's findings");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, r) = call(&app, "POST", "/incr/stop", "", None).await;
    assert_eq!(r["data"]["stopped"], true, "{r}");
    let (_, s) = call(&app, "GET", "/stats", "", None).await;
    assert_eq!((&s["data"]["incr_validation_runs"], &s["data"]["data_discrepancies"]), (&json!(1), &json!(4)), "{s}");
    let (_, r) = call(&app, "POST", "/full/stop", "", None).await;
    assert_eq!(r["data"]["stopped"], false, "the full run had finished");
}

#[tokio::test(flavor = "multi_thread")]
async fn modules_are_listed_hot_loaded_refused_with_a_reason_and_unloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (app, m) = start(setup(dir.path(), false, "").await, None).await;
    let (_, list) = call(&app, "GET", "/modules", "", None).await;
    assert_eq!(list["data"]["warmup"]["totalModules"], 3);
    let upload = |bytes: Vec<u8>| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(Request::put("/modules/probe").body(Body::from(bytes)).unwrap()).await.unwrap();
            let status = resp.status();
            let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (status, body)
        }
    };
    let (code, r) = upload(movex_tests::wasm_bytes("fixture-probe-a")).await;
    assert_eq!((code, &r["data"]["description"]["name"]), (StatusCode::OK, &json!("probe")), "{r}");
    assert!(m.engine.config.modules.dir.join("probe.wasm").is_file(), "kept for the next start");
    let (code, r) = upload(b"not wasm".to_vec()).await;
    assert_eq!((code, &r["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(5)));
    assert!(r["msg"].as_str().unwrap().contains("refused"), "{r}");
    let (code, r) = upload(movex_tests::wasm_bytes("fixture-loop")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "a module that loops is refused at upload: {r}");
    let (code, _) = call(&app, "DELETE", "/modules/probe", "", None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, r) = call(&app, "DELETE", "/modules/probe", "", None).await;
    assert_eq!((code, &r["code"]), (StatusCode::NOT_FOUND, &json!(5)));
}

/// `/repair/status` once the repair has finished.
async fn repair_done(app: &Router) -> Value {
    poll(app, "/repair/status", "repair did not finish", |d| d["running"] == false && d["finished_at"].is_string()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn repair_routes_start_report_and_stop_and_count_outcomes_in_the_metrics_and_the_policys_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (app, m) = start(setup(dir.path(), true, "").await, None).await;
    call(&app, "POST", "/full/start", "", None).await;
    wait_for(&app, "a full run", |d| d["migration_stats"]["full_validation_runs"] == 1).await;
    for (body, needle, status, code) in [
        (r#"{"from": "nowhere"}"#, "unknown variant `nowhere`", StatusCode::BAD_REQUEST, 400),
        (r#"{"dryrun": true}"#, "unknown field `dryrun`", StatusCode::BAD_REQUEST, 400),
        // Well formed, not servable as configured.
        (r#"{"from": "kafka"}"#, "needs an [events.kafka] section", StatusCode::UNPROCESSABLE_ENTITY, 5),
        (r#"{"table": "nope"}"#, "table \"nope\" is not configured", StatusCode::UNPROCESSABLE_ENTITY, 5),
    ] {
        let (status_got, r) = call(&app, "POST", "/repair/start", body, None).await;
        assert_eq!((status_got, &r["code"]), (status, &json!(code)), "{body}: {r}");
        assert!(r["msg"].as_str().unwrap().contains(needle), "{body}: {r}");
    }
    let (_, f) = call(&app, "GET", "/discrepancies", "", None).await;
    assert!(f["data"]["items"].as_array().unwrap().iter().all(|i| i["repair"].is_null()), "nothing repaired yet: {f}");
    // A dry run plans both repairs and changes nothing.
    let (code, r) = call(&app, "POST", "/repair/start", r#"{"dry_run": true}"#, None).await;
    assert_eq!((code, &r["data"]["from"]), (StatusCode::OK, &json!("store")), "{r}");
    let s = repair_done(&app).await;
    assert_eq!((&s["dry_run"], &s["outcomes"], &s["recorded"]), (&json!(true), &json!({"would_run": 2}), &json!({})), "{s}");
    // The real one, with no body at all.
    call(&app, "POST", "/repair/start", "", None).await;
    let s = repair_done(&app).await;
    assert_eq!((&s["outcomes"], &s["recorded"], &s["error"]), (&json!({"repaired": 2}), &json!({"repaired": 2}), &Value::Null), "{s}");
    assert_eq!(s["last"]["outcomes"], json!({"repaired": 2}), "{s}");
    // Each finding says what repair did with it.
    let (_, f) = call(&app, "GET", "/discrepancies", "", None).await;
    let repairs: Vec<&Value> = f["data"]["items"].as_array().unwrap().iter().map(|i| &i["repair"]["outcome"]).collect();
    assert_eq!(repairs, [&json!("repaired"), &json!("repaired")], "{f}");
    let (_, metrics) = call(&app, "GET", "/metrics", "", None).await;
    let text = metrics.as_str().unwrap();
    for line in ["movex_repair_outcomes_total{outcome=\"repaired\"} 2", "movex_repair_outcomes_total{outcome=\"would_run\"} 2", "movex_repair_outcomes_total{outcome=\"failed\"} 0"] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    // The policy sees the outcomes: a policy module would get them as `repairs`.
    let (_, r) = call(&app, "POST", "/repair/stop", "", None).await;
    assert_eq!(r["data"]["stopped"], false, "the repair had finished");
    let repairs = m.engine.store.repair_counts().await.unwrap();
    assert_eq!(repairs.get("repaired"), Some(&2));
    call(&app, "POST", "/full/start", "", None).await;
    let d = wait_for(&app, "a second full run", |d| d["migration_stats"]["full_validation_runs"] == 2).await;
    assert_eq!((&d["migration_stats"]["data_discrepancies"], &d["migration_stats"]["consecutive_clean_runs"]), (&json!(2), &json!(1)), "clean after repair: {d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_mutating_routes_need_it_and_reads_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "").await, Some("s3cret")).await;
    let guarded = [("POST", "/src_only"), ("POST", "/full/start"), ("POST", "/auto-migrate"), ("POST", "/repair/start"), ("POST", "/repair/stop"), ("PUT", "/modules/x"), ("DELETE", "/modules/x")];
    for (method, uri) in guarded {
        for token in [None, Some("wrong")] {
            let (code, r) = call(&app, method, uri, "", token).await;
            assert_eq!((code, &r["code"]), (StatusCode::UNAUTHORIZED, &json!(401)), "{method} {uri} {token:?}");
        }
    }
    let (code, _) = call(&app, "POST", "/src_only", "", Some("s3cret")).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = call(&app, "GET", "/status", "", None).await;
    assert_eq!(code, StatusCode::OK);
    // Listening beyond loopback needs a token.
    let http = movex::config::Http { listen: "0.0.0.0:8080".into(), ..Default::default() };
    let e = movex::http::listen_address(&http, None).unwrap_err().to_string();
    assert!(e.contains("refusing to listen on 0.0.0.0:8080 without a token"), "{e}");
    assert!(movex::http::listen_address(&http, Some("t")).is_ok());
    assert!(movex::http::listen_address(&movex::config::Http::default(), None).unwrap().ip().is_loopback());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_movex_comes_back_in_the_same_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), false, "").await;
    {
        let (app, _) = start(config.clone(), None).await;
        for route in ["/src_only", "/src_first", "/dst_first"] {
            assert_eq!(call(&app, "POST", route, "", None).await.0, StatusCode::OK);
        }
    }
    let m = Migration::open(config).await.unwrap();
    assert_eq!(m.state().await.unwrap(), State::DstFirst);
    assert_eq!(m.pool.pattern(), Pattern::DstFirst);
    assert_eq!(m.engine.store.history(10).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_completes_on_clean_data_and_holds_on_differences() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "").await, None).await;
    assert_eq!(call(&app, "POST", "/auto-migrate", "", None).await.0, StatusCode::OK);
    let d = wait_for(&app, "auto-migrate", |d| d["auto_migrate"]["status"] != "running" && !d["auto_migrate"].is_null()).await;
    assert_eq!((&d["auto_migrate"]["status"], &d["current_state"]), (&json!("completed"), &json!("completed")), "{d}");
    assert_eq!(d["migration_stats"]["full_validation_runs"], 2, "a clean validation in src_first and in dst_first");

    let dir = tempfile::tempdir().unwrap();
    let (app2, m) = start(setup(dir.path(), true, "").await, None).await;
    assert_eq!(call(&app2, "POST", "/auto-migrate", "", None).await.0, StatusCode::OK);
    let d = wait_for(&app2, "auto-migrate", |d| d["auto_migrate"]["status"] != "running" && !d["auto_migrate"].is_null()).await;
    assert_eq!((&d["auto_migrate"]["status"], &d["current_state"]), (&json!("held"), &json!("src_first")), "{d}");
    assert!(d["auto_migrate"]["reason"].as_str().unwrap().contains("found 2 differences"), "{d}");
    assert_eq!(m.pool.pattern(), Pattern::SrcFirst);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let doc: Value = serde_json::from_str(movex::http::status::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/src_only", "post"), ("/src_first", "post"), ("/dst_first", "post"), ("/dst_only", "post"), ("/completed", "post"),
        ("/auto-migrate", "post"), ("/auto-migrate/cancel", "post"), ("/full/start", "post"), ("/full/stop", "post"),
        ("/incr/start", "post"), ("/incr/stop", "post"), ("/modules", "get"), ("/modules/{name}", "put"),
        ("/modules/{name}", "delete"), ("/status", "get"), ("/stats", "get"), ("/health", "get"), ("/discrepancies", "get"),
        ("/validations/current", "get"), ("/history", "get"), ("/metrics", "get"), ("/openapi.json", "get"),
        ("/repair/start", "post"), ("/repair/stop", "post"), ("/repair/status", "get"),
        ("/copy/start", "post"), ("/copy/stop", "post"), ("/copy/status", "get"), ("/instances", "get"),
        ("/", "get"), ("/ui", "get"), ("/ui/", "get"), ("/ui/{path}", "get"),
    ];
    for (path, method) in routes {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from docs/openapi.json");
    }
    assert_eq!(paths.values().map(|p| p.as_object().unwrap().keys().filter(|k| *k != "parameters").count()).sum::<usize>(), routes.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_can_be_cancelled_and_uploads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // A long soak keeps auto-migrate in src_first until it is cancelled.
    let (app, m) = start(setup(dir.path(), false, "soak_ms = 60000").await, None).await;
    assert_eq!(call(&app, "POST", "/auto-migrate", "", None).await.0, StatusCode::OK);
    wait_for(&app, "auto-migrate to reach src_first", |d| d["current_state"] == "src_first").await;
    let (_, r) = call(&app, "POST", "/auto-migrate/cancel", "", None).await;
    assert_eq!(r["data"]["cancelled"], true, "{r}");
    let a = m.auto_status().await.unwrap().unwrap();
    assert_eq!((a.status.as_str(), a.state.as_str()), ("cancelled", "src_first"));
    // A module larger than the upload limit (1 MiB here) is refused before loading.
    let big = vec![0u8; (1 << 20) + 1];
    let resp = app.clone().oneshot(Request::put("/modules/big").body(Body::from(big)).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_moves_the_migration_after_a_clean_validation_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let (app, m) = start(setup(dir.path(), false, "").await, None).await;
    for route in ["/src_only", "/src_first"] {
        assert_eq!(call(&app, "POST", route, "", None).await.0, StatusCode::OK);
    }
    assert_eq!(call(&app, "POST", "/full/start", "", None).await.0, StatusCode::OK);
    let d = wait_for(&app, "the policy to promote", |d| d["current_state"] == "dst_first").await;
    assert_eq!(d["migration_stats"]["last_decision"]["applied"], true, "{d}");
    assert_eq!(m.engine.store.history(1).await.unwrap()[0].by, "builtin");

    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "auto_promote = false").await, None).await;
    for route in ["/src_only", "/src_first", "/full/start"] {
        assert_eq!(call(&app, "POST", route, "", None).await.0, StatusCode::OK);
    }
    let d = wait_for(&app, "the decision", |d| d["migration_stats"]["last_decision"]["action"] == "promote").await;
    assert_eq!((&d["current_state"], &d["migration_stats"]["last_decision"]["applied"]), (&json!("src_first"), &json!(false)), "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn starting_a_validation_cancels_the_previous_one_and_starts_and_stops_do_not_race() {
    let dir = tempfile::tempdir().unwrap();
    // Slow runs: 50 rows at 10 rows/s take 5 s.
    let (app, m) = start(setup(dir.path(), false, "[validation]\nbatch_size = 5\nmax_rows_per_sec = 10").await, None).await;
    assert_eq!(call(&app, "POST", "/full/start", "", None).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call(&app, "POST", "/full/start", "", None).await.0, StatusCode::OK);
    // The first run was stopped and counted before the second began.
    let (_, s) = call(&app, "GET", "/stats", "", None).await;
    assert_eq!(s["data"]["full_validation_runs"], 1, "{s}");
    let (_, cur) = call(&app, "GET", "/validations/current", "", None).await;
    assert_eq!(cur["data"][0]["running"], true, "{cur}");
    // Many starts and stops at once: every call answers, and after a last
    // stop nothing runs.
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { call(&app, "POST", if i % 2 == 0 { "/full/start" } else { "/full/stop" }, "", None).await.0 })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), StatusCode::OK);
    }
    call(&app, "POST", "/full/stop", "", None).await;
    assert!(m.current().await.iter().all(|c| !c.running), "a run outlived the last stop");
}

/// Send a request as built; status, headers and body (JSON, else text).
async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())))
}

/// Whether `r` is the envelope `{code, msg, data}` with this code.
fn is_envelope(r: &Value, code: i64) -> bool {
    r["code"] == json!(code) && r["msg"].is_string() && r.get("data").is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_routes_that_answer_with_row_data_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), true, "").await, Some("s3cret")).await;
    assert_eq!(call(&app, "POST", "/full/start", "", Some("s3cret")).await.0, StatusCode::OK);
    wait_for(&app, "a full run", |d| d["migration_stats"]["full_validation_runs"] == 1).await;
    // Findings hold row values; the progress counts them by tag (a
    // column's value); a repair's plan and failures quote rows.
    for uri in ["/discrepancies", "/validations/current", "/repair/status"] {
        for token in [None, Some("wrong")] {
            let (code, r) = call(&app, "GET", uri, "", token).await;
            assert_eq!((code, &r["code"]), (StatusCode::UNAUTHORIZED, &json!(401)), "GET {uri} with {token:?}: {r}");
            assert!(!r.to_string().contains("corrupt"), "no row data in the refusal: {r}");
        }
        let (code, r) = call(&app, "GET", uri, "", Some("s3cret")).await;
        assert_eq!((code, &r["code"]), (StatusCode::OK, &json!(0)), "GET {uri} with the token: {r}");
    }
    let (_, r) = call(&app, "GET", "/discrepancies", "", Some("s3cret")).await;
    assert_eq!(r["data"]["items"].as_array().unwrap().len(), 2, "{r}");
    // Monitoring stays open: states, counts, health, metrics.
    for uri in ["/status", "/stats", "/health", "/metrics", "/history", "/modules", "/openapi.json"] {
        assert_eq!(call(&app, "GET", uri, "", None).await.0, StatusCode::OK, "GET {uri} without a token");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_with_redact_values_gets_findings_with_column_names_and_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup_table(dir.path(), true, "", "redact_values = true").await;
    // Personal data on the source: row 3 differs on the destination
    // ('corrupt'), as does row 30 ('user30' against 'corrupt').
    dbs::exec(&config.source.url, "UPDATE users SET name = 'alice@example.com SSN 123-45-6789' WHERE id = 3").await;
    let state = config.state.url.clone();
    let (app, _) = start(config, None).await;
    assert_eq!(call(&app, "POST", "/full/start", "", None).await.0, StatusCode::OK);
    wait_for(&app, "a full run", |d| d["migration_stats"]["full_validation_runs"] == 1).await;
    let values = ["alice", "123-45-6789", "user30", "corrupt"];
    // In the state store (which Kafka delivery reads from, as it is).
    let stored = dbs::query_strings(&state, "SELECT body FROM movex_findings ORDER BY seq").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    for body in &stored {
        assert!(values.iter().all(|v| !body.contains(v)), "a stored finding holds a value: {body}");
        let f: Value = serde_json::from_str(body).unwrap();
        assert_eq!((&f["type"], &f["columns"][0]["column"], &f["redacted"]), (&json!("neq"), &json!("name"), &json!(true)), "{f}");
        assert_eq!((&f["columns"][0]["base"], &f["columns"][0]["target"]), (&Value::Null, &Value::Null), "{f}");
    }
    // Over HTTP: the key stays (repair needs it to settle the finding), and the tag.
    let (_, r) = call(&app, "GET", "/discrepancies", "", None).await;
    let text = r.to_string();
    assert!(values.iter().all(|v| !text.contains(v)), "a value over HTTP: {text}");
    let items = r["data"]["items"].as_array().unwrap();
    let keys: Vec<&Value> = items.iter().map(|f| &f["key"]).collect();
    assert_eq!(keys, [&json!(3), &json!(30)], "{r}");
    assert!(items.iter().all(|f| f["columns"][0]["column"] == "name" && f["tag"] == "gold"), "{r}");
    // Repair settles them by key all the same.
    call(&app, "POST", "/repair/start", "", None).await;
    let s = repair_done(&app).await;
    assert_eq!(s["outcomes"], json!({"repaired": 2}), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_store_that_fails_under_a_move_is_503_with_the_cause_and_a_refused_move_409() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), false, "").await;
    let state = config.state.url.clone();
    let (app, _) = start(config, None).await;
    // The store stops taking transitions (as an unwritable or unreachable one would).
    dbs::exec(&state, "DROP TABLE movex_transitions").await;
    let (code, r) = call(&app, "POST", "/src_only", "", None).await;
    assert_eq!((code, &r["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!(5)), "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("state store") && msg.contains("movex_transitions"), "names the store and the cause: {msg}");
    let (_, s) = call(&app, "GET", "/status", "", None).await;
    assert_eq!(s["data"]["current_state"], "initial", "nothing moved: {s}");
    // A move the state machine refuses is still a conflict.
    let (code, r) = call(&app, "POST", "/dst_only", "", None).await;
    assert_eq!((code, &r["code"]), (StatusCode::CONFLICT, &json!(5)), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_and_other_refused_requests_get_the_envelope_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = start(setup(dir.path(), false, "").await, None).await;
    // A JSON body far over its limit: 413 (not 400), with the limit.
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(2 << 20));
    for declared in [true, false] {
        let mut req = Request::post("/src_only").header("content-type", "application/json");
        if declared {
            req = req.header("content-length", big.len());
        }
        let (code, _, r) = send(&app, req.body(Body::from(big.clone())).unwrap()).await;
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "declared {declared}: {r}");
        assert!(is_envelope(&r, 413), "{r}");
        assert!(r["msg"].as_str().unwrap().contains("limit of 65536 bytes"), "{r}");
    }
    // A module over [http] max_upload_bytes (1 MiB here).
    let (code, _, r) = send(&app, Request::put("/modules/big").body(Body::from(vec![0u8; (1 << 20) + 1])).unwrap()).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(is_envelope(&r, 413), "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("1048576") && msg.contains("max_upload_bytes"), "{msg}");
    // A method the path does not take: 405, the Allow header, the envelope.
    let (code, headers, r) = send(&app, Request::get("/src_only").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    assert!(is_envelope(&r, 405) && r["msg"].as_str().unwrap().contains("Allow header"), "{r}");
    // A path segment that does not decode.
    let (code, _, r) = send(&app, Request::delete("/modules/%FF").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(is_envelope(&r, 400), "{r}");
    // Out of range: a page size, a start time.
    for (method, uri, body) in [("GET", "/discrepancies?limit=0", ""), ("GET", "/discrepancies?limit=1001", ""), ("POST", "/incr/start", r#"{"utime": 9223372036854775807}"#)] {
        let (code, r) = call(&app, method, uri, body, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{method} {uri} {body}: {r}");
        assert!(is_envelope(&r, 400), "{r}");
    }
}

/// The modules directory's `.wasm` files, by file name.
fn module_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wasm"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn one_module_name_keeps_one_file_across_uploads_deletes_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), false, "").await;
    let modules = config.modules.dir.clone();
    // As cargo names it: the file is not called after the module (`probe`).
    std::fs::write(modules.join("fixture_probe_a.wasm"), movex_tests::wasm_bytes("fixture-probe-a")).unwrap();
    let put = |app: &Router, package: &str| {
        let req = Request::put("/modules/probe").body(Body::from(movex_tests::wasm_bytes(package))).unwrap();
        let app = app.clone();
        async move { send(&app, req).await }
    };
    {
        let (app, _) = start(config.clone(), None).await;
        let (code, _, r) = put(&app, "fixture-probe-b").await;
        assert_eq!(code, StatusCode::OK, "{r}");
        assert_eq!(module_files(&modules), ["exact.wasm", "probe.wasm", "tag-by-column.wasm", "tolerant.wasm"], "the old file went: {r}");
        let (code, h) = call(&app, "GET", "/health", "", None).await;
        assert_eq!(code, StatusCode::OK, "{h}");
    }
    // A restart loads what served, with no warm-up error.
    let b_hash = {
        let (app, m) = start(config.clone(), None).await;
        let (code, h) = call(&app, "GET", "/health", "", None).await;
        assert_eq!((code, &h["data"]["warmup"]["status"]), (StatusCode::OK, &json!("completed")), "{h}");
        let hash = m.engine.modules.get("probe").expect("probe loads again").hash.clone();
        assert_eq!(hash, movex::wasm::cache::content_hash(&movex_tests::wasm_bytes("fixture-probe-b")));
        // Deleted stays deleted: the file goes with it.
        let (code, r) = call(&app, "DELETE", "/modules/probe", "", None).await;
        assert_eq!(code, StatusCode::OK, "{r}");
        hash
    };
    assert!(!b_hash.is_empty());
    let (app, m) = start(config.clone(), None).await;
    assert!(m.engine.modules.get("probe").is_none(), "a deleted module came back after a restart");
    assert_eq!(call(&app, "GET", "/health", "", None).await.0, StatusCode::OK);
    // Deleting a module loaded from a file of another name removes that file.
    std::fs::copy(movex_tests::wasm("fixture-probe-a"), modules.join("fixture_probe_a.wasm")).unwrap();
    let (app, _) = start(config.clone(), None).await;
    assert_eq!(call(&app, "DELETE", "/modules/probe", "", None).await.0, StatusCode::OK);
    assert!(!modules.join("fixture_probe_a.wasm").exists(), "{:?}", module_files(&modules));
    let (_, m) = start(config, None).await;
    assert!(m.engine.modules.get("probe").is_none(), "a deleted module came back after a restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_up_error_makes_health_unhealthy_until_the_directory_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), false, "").await;
    let modules = config.modules.dir.clone();
    std::fs::write(modules.join("junk.wasm"), b"not wasm at all").unwrap();
    // Two files of one module: only one would load.
    std::fs::copy(modules.join("exact.wasm"), modules.join("exact-again.wasm")).unwrap();
    let (app, _) = start(config, None).await;
    let (code, h) = call(&app, "GET", "/health", "", None).await;
    assert_eq!((code, &h["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!(5)), "{h}");
    let cause = h["data"]["faults"]["modules"]["cause"].as_str().unwrap_or_default().to_owned();
    assert!(cause.contains("junk.wasm") && cause.contains("refused at warm-up"), "names the file and why: {h}");
    assert!(cause.contains("exact-again.wasm"), "names the duplicate: {h}");
    // Fixed by hand: /health sees it.
    std::fs::remove_file(modules.join("junk.wasm")).unwrap();
    std::fs::remove_file(modules.join("exact-again.wasm")).unwrap();
    let (code, h) = call(&app, "GET", "/health", "", None).await;
    assert_eq!(code, StatusCode::OK, "{h}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_the_exercise_refuses_leaves_no_compiled_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), false, "").await;
    let cache = config.modules.dir.join(".cache");
    let (app, _) = start(config, None).await;
    let artifacts = || std::fs::read_dir(&cache).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cwasm")).count();
    let before = artifacts();
    assert_eq!(before, 3, "the three example modules");
    let req = Request::put("/modules/fixture-panic").body(Body::from(movex_tests::wasm_bytes("fixture-panic"))).unwrap();
    let (code, _, r) = send(&app, req).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(artifacts(), before, "a refused module left a compiled artifact in {}", cache.display());
    assert!(!module_files(&dir.path().join("modules")).contains(&"fixture-panic.wasm".to_owned()));
}

/// The copy over HTTP: refused (409) before `src_first` unless `offline`,
/// and with a bad body (400); then started with the token, its status live
/// (rows, rate, the reason it is slowed down while chunks are slower than
/// `max_latency_ms`), done with every row, counted in the metrics, and
/// visible to the policy's stats.
#[tokio::test(flavor = "multi_thread")]
async fn copy_routes_start_report_slow_down_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=3000).map(|i| format!("({i}, 'user{i}', 'gold', {})", 1000 + i)).collect();
    let src = dbs::sqlite(dir.path(), "src", &format!("{TABLE}INSERT INTO users VALUES {};", rows.join(", "))).await;
    let dst = dbs::sqlite(dir.path(), "dst", TABLE).await;
    let table = "[[tables]]\nname = \"users\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    // Chunks of 100; a chunk slower than 100 ms slows the copy down.
    let extra = "[policy]\ninterval_ms = 0\n[copy]\nchunk_size = 100\nmax_latency_ms = 100\n";
    let (path, _) = dbs::config(dir.path(), &src, &dst, extra, table);
    let (app, m) = start(Config::load(&path).unwrap(), Some("s3cret")).await;
    let token = Some("s3cret");
    assert_eq!(call(&app, "POST", "/copy/start", "", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "GET", "/copy/status", "", None).await.0, StatusCode::UNAUTHORIZED, "the last key is row data");
    let (code, r) = call(&app, "POST", "/copy/start", r#"{"tables": "users"}"#, token).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{r}");
    let (code, r) = call(&app, "POST", "/copy/start", "", token).await;
    assert_eq!(code, StatusCode::CONFLICT, "{r}");
    assert!(r["msg"].as_str().unwrap().contains("src_first"), "{r}");

    // Another writer holds the destination's write lock 300 ms at a time:
    // a chunk that comes while it does waits for it, so chunks are slow,
    // whatever the load (a busy file past SQLite's timeout is retried).
    let busy = tokio_util::sync::CancellationToken::new();
    let holder = tokio::spawn(hold_write_lock(format!("sqlite://{}", dir.path().join("dst.db").display()), busy.clone()));
    let (code, r) = call(&app, "POST", "/copy/start", r#"{"offline": true}"#, token).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    let mut slowed = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let (_, r) = call(&app, "GET", "/copy/status", "", token).await;
        let t = &r["data"]["tables"][0];
        if let Some(why) = t["throttled"].as_str() {
            slowed = Some(why.to_owned());
            busy.cancel();
        }
        if r["data"]["running"] == false && !t.is_null() {
            break r["data"].clone();
        }
        assert!(Instant::now() < deadline, "{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    busy.cancel();
    holder.await.unwrap();
    let t = &done["tables"][0];
    assert_eq!((&t["state"], &t["rows_copied"], &done["recorded"][0]["state"]), (&json!("done"), &json!(3000), &json!("done")), "{done}");
    assert!(slowed.as_deref().is_some_and(|w| w.contains("max_latency_ms = 100")), "the status said why it slowed down: {slowed:?}");
    let (_, metrics) = call(&app, "GET", "/metrics", "", None).await;
    assert!(metrics.as_str().unwrap().contains("movex_copy_rows_total{table=\"users\"} 3000"), "{metrics}");
    assert_eq!(dbs::query_strings(&format!("sqlite://{}", dir.path().join("dst.db").display()), "SELECT count(*) FROM users").await, ["3000"]);
    let copies = m.engine.store.copies().await.unwrap();
    assert_eq!((copies.len(), copies[0].rows_copied), (1, 3000));
}

/// Hold SQLite's write lock on `url` 300 ms at a time until `busy` is
/// cancelled, free for 150 ms between: longer than the longest sleep of
/// SQLite's busy handler (100 ms), so a writer waiting for the lock wakes
/// while it is free, however slow the machine.
async fn hold_write_lock(url: String, busy: tokio_util::sync::CancellationToken) {
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    while !busy.is_cancelled() {
        let tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
