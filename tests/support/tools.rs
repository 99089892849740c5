//! Tests that need a tool this machine may lack (the tansu broker, sysbench,
//! Go, a Python package) are **ignored where it is missing**, so that
//! nextest's summary counts them as skipped, not passed; under `CI` they
//! always run, and fail if the tool is missing.
//!
//! The mechanism is the `has_tool` cfg:
//! - [`TOOLS`] names each tool, how to tell that it is there, and how to
//!   install it: the one place that is written.
//! - `tests/build.rs` includes this file and probes every tool when the
//!   tests are built: `--cfg has_tool="<name>"` for each one found, and for
//!   all of them when `CI` is set (CI installs them: `.ci/run`). For each
//!   one missing it prints a cargo warning with the command that installs
//!   it (cargo shows it on every build, so above nextest's `... skipped`:
//!   nextest does not print why a test is skipped).
//! - A test that needs one says so with `#[needs_tool("<name>", ...)]`
//!   (`tests/macros`, which includes this file too) above `#[test]`, which
//!   ignores it where the tool was not found, the install command as the
//!   reason (`cargo test` prints it: `ignored, needs tansu, ...`), and
//!   calls [`require`] first, which panics (it never returns early) when
//!   the tool is missing:
//!
//!   ```ignore
//!   #[needs_tool("tansu")]
//!   #[test]
//!   fn delivers_to_kafka() {
//!       tools::require("tansu");
//!       // ...
//!   }
//!   ```
//!
//! So without tansu the summary reads `... passed, 2 skipped`; with it, or
//! under `CI`, the tests run. `cargo nextest run --run-ignored all` runs
//! them anyway, and they fail naming what to install. A new tool is a new
//! row in [`TOOLS`] (its name becomes a valid `has_tool` value).
//!
//! The probe runs again when this file, `PATH` or `CI` changes; after
//! installing a tool into a directory already on `PATH`, touch this file.
//!
//! This file is also compiled into the build script and the macro: std only.

use std::process::Command;

/// A tool some tests need.
pub struct Tool {
    /// The `has_tool` value.
    pub name: &'static str,
    /// A command that succeeds when the tool is usable.
    pub probe: &'static [&'static str],
    /// What to run to get it.
    pub install: &'static str,
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "tansu",
        probe: &["tansu", "--version"],
        install: "cargo install tansu --version 0.6.0 --locked --features dynostore,libsql --debug",
    },
    Tool {
        name: "sysbench",
        probe: &["sysbench", "--version"],
        install: "apt-get install sysbench",
    },
    Tool {
        name: "go-sql-driver",
        probe: &["sh", "-c", "go version && test -d /usr/share/gocode/src/github.com/go-sql-driver/mysql"],
        install: "apt-get install golang-go golang-github-go-sql-driver-mysql-dev",
    },
    Tool {
        name: "pymysql",
        probe: &["python3", "-c", "import pymysql, mysql.connector"],
        install: "pip install PyMySQL mysql-connector-python",
    },
    Tool {
        name: "chattr",
        probe: &["sh", "-c", "f=$(mktemp) && chattr +i \"$f\" && chattr -i \"$f\" && rm \"$f\""],
        install: "apt-get install e2fsprogs, and run the tests as root on a file system with the immutable attribute (ext4)",
    },
    Tool {
        name: "mariadbd",
        probe: &["sh", "-c", "command -v mariadb-install-db && command -v mariadbd"],
        install: "apt-get install mariadb-server (a private server is started from its binaries)",
    },
    Tool {
        name: "psycopg",
        probe: &["python3", "-c", "import psycopg"],
        install: "python3 -m pip install 'psycopg[binary]'",
    },
    Tool {
        name: "node-pg",
        probe: &["sh", "-c", "NODE_PATH=\"$HOME/.cache/movex-ci/node/node_modules\" node -e 'require(\"pg\")'"],
        install: "npm install --prefix ~/.cache/movex-ci/node pg@8",
    },
    Tool {
        name: "chromium",
        probe: &["sh", "-c", "chromium --version && NODE_PATH=\"$HOME/.cache/movex-ci/node/node_modules\" node -e 'require(\"playwright-core\")'"],
        install: "apt-get install chromium, and npm install --prefix ~/.cache/movex-ci/node playwright-core@1.64.1",
    },
    Tool {
        name: "pgbench",
        probe: &["pgbench", "--version"],
        install: "apt-get install postgresql-contrib (pgbench comes with PostgreSQL's server packages)",
    },
    Tool {
        name: "schemathesis",
        probe: &["schemathesis", "--version"],
        install: "python3 -m pip install schemathesis",
    },
];

/// Whether the tool's probe succeeds here.
pub fn found(tool: &Tool) -> bool {
    Command::new(tool.probe[0]).args(&tool.probe[1..]).output().is_ok_and(|o| o.status.success())
}

/// Panic unless the tool named is usable: a test that needs it runs only
/// where the build found it (or under `CI`), so missing now is a failure,
/// never a quiet pass.
pub fn require(name: &str) {
    let tool = TOOLS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no tool {name:?} in tests/support/tools.rs"));
    if found(tool) {
        return;
    }
    let why = if std::env::var_os("CI").is_some() {
        "CI must install it: see .ci/run"
    } else {
        "the test ran because it was there when the tests were built, or because of --run-ignored"
    };
    panic!("this test needs {name}, which is missing ({why}); install it: {}", tool.install);
}
