//! schemathesis over the OpenAPI document, with every check, against a real
//! `movex serve` (SQLite source and destination, a token set, the example
//! modules): no server error, every answer a status and a body the document
//! lists, invalid requests refused, valid ones accepted, the token enforced
//! on every route that needs it. A short run, bounded in examples and in
//! time, so it fits CI. Without `schemathesis` on the PATH it is ignored
//! (skipped in the summary; `has_tool`, tests/support/tools.rs); CI
//! installs it (.ci/run), and under `CI` a missing one fails.

use movex_tests::needs_tool;
use movex_tests::broker::free_port;
use movex_tests::dbs;
use movex_tests::server::{serve_logging, stop_and_report};
use movex_tests::tools;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The checks' settings. Valid data may still be refused for what the
/// schema cannot say: a well-formed upload that is not a working module is
/// 422 (refused, with the reason), and a move the state machine does not
/// allow from where the migration stands is 409 (in the defaults). `/`
/// and `/ui` answer every request with a redirect to the operator's page
/// (`/ui/`), which schemathesis does not follow.
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "404", "409", "422"]

[[operations]]
include-path = ["/", "/ui"]
checks.positive_data_acceptance.expected-statuses = ["307"]
"#;

/// The whole run's bound; beyond it the test fails (and stops the run).
const BOUND: Duration = Duration::from_secs(150);

#[needs_tool("schemathesis")]
#[tokio::test(flavor = "multi_thread")]
async fn the_control_plane_passes_schemathesis_with_every_check() {
    tools::require("schemathesis");
    let st = "schemathesis";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let token = "st-token";
    let (config, dst) = dbs::users_to_serve(dir.path(), 20, port, token, "").await;
    dbs::exec(&dst, "UPDATE users SET name = 'x' WHERE id = 3").await;
    let st_config = dir.path().join("schemathesis.toml");
    std::fs::write(&st_config, CONFIG).unwrap();
    let log = dir.path().join("serve.log");
    let mut server = serve_logging(&config, port, Some(&log));

    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let auth = format!("Authorization: Bearer {token}");
    let args = [
        "--config-file",
        st_config.to_str().unwrap(),
        "run",
        &url,
        "--checks",
        "all",
        "-H",
        &auth,
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
    ];
    eprintln!("+ {st} {}", args.join(" "));
    // Into a file, not a pipe: a pipe nobody reads while we wait fills up
    // and stalls the run.
    let st_log = dir.path().join("schemathesis.log");
    let out = std::fs::File::create(&st_log).unwrap();
    let mut child = Command::new(st)
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("start schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BOUND {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = stop_and_report(&mut server, &st_log, &log);
    let Some(status) = status else { panic!("schemathesis ran past {BOUND:?}:\n{report}") };
    assert!(status.success(), "schemathesis found failures ({status}):\n{report}");
    eprintln!("schemathesis passed in {:.0?}", started.elapsed());
}
