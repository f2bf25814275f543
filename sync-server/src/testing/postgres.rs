//! A PostgreSQL server for tests, and a fresh schema on it per test.
//!
//! The server is the one `HOLDFAST_TEST_POSTGRES` names (a `postgres://` URL; `scripts/test`
//! starts one for the whole run and sets it), or else one this test process starts once, on
//! first use, with `scripts/postgres start` (a private server in a temporary folder, on a
//! free loopback port; the script installs the Debian package if PostgreSQL is missing, and
//! stops the server and removes its folder once this process has exited).
//!
//! Tests never skip for want of PostgreSQL: if there is no server and none can be started,
//! [`server_url`] panics, and the test fails, saying why.
//!
//! Each [`TestSchema`] is a new schema on that server, named for the test process and a
//! counter; connections made from its [`config`](TestSchema::config) or
//! [`url`](TestSchema::url) have it as their `search_path`, so the relay's tables, its
//! version table and its notifications are the schema's own. Creating one costs a
//! connection and a `CREATE SCHEMA` (milliseconds; a `CREATE DATABASE` would copy a
//! template and flush it). Dropping it drops the schema.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming a PostgreSQL server for the tests.
pub const TEST_POSTGRES: &str = "HOLDFAST_TEST_POSTGRES";

/// The script that starts a private server.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres");

/// The URL of the tests' PostgreSQL server (see the [module docs](self)). Panics with the
/// reason when there is none and none could be started.
pub fn server_url() -> &'static str {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    match URL.get_or_init(find_or_start) {
        Ok(url) => url,
        Err(why) => panic!("{why}"),
    }
}

fn find_or_start() -> Result<String, String> {
    if let Ok(url) = std::env::var(TEST_POSTGRES)
        && !url.trim().is_empty()
    {
        return Ok(url.trim().to_owned());
    }
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("holdfast-postgres-test-{pid}"));
    let output = Command::new("bash")
        .arg(SCRIPT)
        .arg("start")
        .arg("--dir")
        .arg(&dir)
        .arg("--watch")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| cannot_start(&format!("running {SCRIPT} failed: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let url = stdout.lines().last().unwrap_or_default().trim();
    if !output.status.success() || !url.starts_with("postgres") {
        return Err(cannot_start(&format!(
            "`scripts/postgres start` exited with {}:\n{stderr}",
            output.status
        )));
    }
    Ok(url.to_owned())
}

fn cannot_start(why: &str) -> String {
    format!(
        "the PostgreSQL tests need a server and none could be started. Set {TEST_POSTGRES} to \
         a postgres:// URL (a role that may create schemas), or let the tests start one with \
         scripts/postgres (PostgreSQL 15+, or apt-get to install it). {why}"
    )
}

/// A schema of its own on the tests' server for one test; dropped (with everything in it)
/// when this is dropped.
#[derive(Debug)]
pub struct TestSchema {
    name: String,
    config: tokio_postgres::Config,
}

impl TestSchema {
    /// Creates a new schema. Callable from inside a runtime or outside any: it connects on
    /// a thread of its own.
    pub fn new() -> TestSchema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "holdfast_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = server_config();
        let sql = format!("CREATE SCHEMA {name}");
        if let Err(e) = run_on_own_thread(execute(server.clone(), sql)) {
            let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
            panic!(
                "creating test schema {name} failed: {e}{cause}. Is the PostgreSQL server \
                 {TEST_POSTGRES} names (or the one these tests started) running, and may its \
                 role create schemas?"
            );
        }
        let mut config = server;
        config.options(format!("-c search_path={name}"));
        TestSchema { name, config }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection configuration whose `search_path` is the schema.
    pub fn config(&self) -> tokio_postgres::Config {
        self.config.clone()
    }

    /// The same as a URL, for `--database`.
    pub fn url(&self) -> String {
        let server = server_url();
        let separator = if server.contains('?') { '&' } else { '?' };
        format!("{server}{separator}options=-csearch_path%3D{}", self.name)
    }
}

impl TestSchema {
    /// Backs the schema up to `file` with `pg_dump` (custom format), as an operator's
    /// nightly backup would, while relays may be writing to it.
    pub fn back_up(&self, file: &std::path::Path) {
        let mut dump = Command::new(tool("pg_dump"));
        dump.arg("--dbname")
            .arg(server_url())
            .arg("--schema")
            .arg(&self.name)
            .arg("--format=custom")
            .arg("--file")
            .arg(file);
        run_tool(dump, "pg_dump");
    }

    /// Replaces the schema with the backup in `file` (`pg_restore`): everything written
    /// since is gone. Stop the relays on it first.
    pub fn restore(&self, file: &std::path::Path) {
        let sql = format!("DROP SCHEMA {} CASCADE", self.name);
        if let Err(e) = run_on_own_thread(execute(server_config(), sql)) {
            panic!("dropping schema {} for the restore: {e}", self.name);
        }
        let mut restore = Command::new(tool("pg_restore"));
        restore
            .arg("--dbname")
            .arg(server_url())
            .arg("--exit-on-error")
            .arg(file);
        run_tool(restore, "pg_restore");
    }
}

/// The newest installed PostgreSQL's client tool `name` (`pg_dump`, `psql`): in
/// `/usr/lib/postgresql/<version>/bin`, where Debian puts it and `scripts/postgres` finds
/// the server, else `name` on the `PATH`.
pub fn tool(name: &str) -> std::path::PathBuf {
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|version| {
            let number = version.file_name().to_str()?.parse().ok()?;
            let path = version.path().join("bin").join(name);
            path.exists().then_some((number, path))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| std::path::PathBuf::from(name), |(_, path)| path)
}

fn run_tool(mut command: Command, name: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {name} failed: {e}"));
    assert!(
        output.status.success(),
        "{name} exited with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Default for TestSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = run_on_own_thread(execute(server_config(), sql)) {
            // Left behind in a throwaway server: worth a line, not a failure.
            eprintln!("dropping test schema {}: {e}", self.name);
        }
    }
}

/// The server's connection configuration.
pub fn server_config() -> tokio_postgres::Config {
    server_url()
        .parse()
        .unwrap_or_else(|e| panic!("{TEST_POSTGRES} is not a PostgreSQL URL: {e}"))
}

/// Connects to `config` and runs `sql`.
async fn execute(config: tokio_postgres::Config, sql: String) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(&sql).await;
    drop(client);
    let _ = driver.await;
    result
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own (so that it
/// can be called from a test's runtime, or from a `Drop` inside one).
fn run_on_own_thread<T: Send>(future: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the test database")
                    .block_on(future)
            })
            .join()
            .expect("the test database's thread")
    })
}
