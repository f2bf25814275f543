//! The docs are the contract: every limit and default that docs/PROTOCOL.md's "Limits and
//! defaults" table states is checked here against the code that enforces it, and so are the
//! relay flag table in README.md and every `` `--flag` (value) `` the documents mention.
//!
//! A row whose value differs from the code fails; so does a row naming something this test
//! does not know (every row is checked), and a constant this test knows that has no row (the
//! table cannot quietly lose one). Change a limit, and this test tells you which documents
//! still say the old value.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::CommandFactory;
use holdfast_protocol as protocol;
use holdfast_relay::Limits;

const PROTOCOL_MD: &str = include_str!("../../docs/PROTOCOL.md");
const SECURITY_MD: &str = include_str!("../../docs/SECURITY.md");
const README_MD: &str = include_str!("../../README.md");
const ARCHITECTURE_MD: &str = include_str!("../../ARCHITECTURE.md");
const OPERATIONS_MD: &str = include_str!("../../docs/OPERATIONS.md");

/// The heading above the checked table, and the table's header row.
const TABLE_HEADING: &str = "## Limits and defaults";
const TABLE_HEADER: &str = "| limit | value | in the code |";

/// A value with its kind, so "3,600 s" equals 3,600 seconds and not 3,600 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Bytes(u64),
    /// In milliseconds.
    Duration(u64),
    Count(u64),
    PerSecond(f64),
    PerHour(u64),
}

fn secs(s: u64) -> Value {
    Value::Duration(s * 1000)
}

fn duration(d: Duration) -> Value {
    Value::Duration(u64::try_from(d.as_millis()).unwrap())
}

fn bytes(n: usize) -> Value {
    Value::Bytes(u64::try_from(n).unwrap())
}

fn count(n: usize) -> Value {
    Value::Count(u64::try_from(n).unwrap())
}

/// What the code says, for each name the table's third column may hold.
fn in_the_code() -> BTreeMap<&'static str, Value> {
    let l = Limits::default();
    let relay = [
        ("HEADER_LEN", bytes(protocol::HEADER_LEN)),
        ("ENVELOPE_OVERHEAD", bytes(protocol::ENVELOPE_OVERHEAD)),
        ("MIN_ENVELOPE", bytes(protocol::MIN_ENVELOPE)),
        ("MAX_CIPHERTEXT", bytes(protocol::MAX_CIPHERTEXT)),
        ("MAX_PLAINTEXT", bytes(protocol::MAX_PLAINTEXT)),
        ("MAX_ENVELOPE", bytes(protocol::MAX_ENVELOPE)),
        ("MAX_BATCH", count(protocol::MAX_BATCH)),
        ("MAX_PUSH_BYTES", bytes(protocol::MAX_PUSH_BYTES)),
        ("MAX_PAGE_BYTES", bytes(protocol::MAX_PAGE_BYTES)),
        ("CHALLENGE_LEN", bytes(protocol::CHALLENGE_LEN)),
        ("MAX_ORIGIN_LEN", bytes(protocol::MAX_ORIGIN_LEN)),
        ("MAX_ENTRY", bytes(protocol::MAX_ENTRY)),
        ("MAX_BUNDLE", bytes(protocol::MAX_BUNDLE)),
        ("max_bundle_len(0)", bytes(protocol::max_bundle_len(0))),
        (
            "max_bundle_len(1) - max_bundle_len(0)",
            bytes(protocol::max_bundle_len(1) - protocol::max_bundle_len(0)),
        ),
        ("HPKE_PUBLIC_KEY_LEN", bytes(protocol::HPKE_PUBLIC_KEY_LEN)),
        ("HPKE_ENC_LEN", bytes(protocol::HPKE_ENC_LEN)),
        (
            "MAX_BUNDLES_PER_REQUEST",
            count(protocol::MAX_BUNDLES_PER_REQUEST),
        ),
        ("MAX_IDS_PER_REQUEST", count(protocol::MAX_IDS_PER_REQUEST)),
        (
            "MAX_KEYS_REQUEST_BYTES",
            bytes(protocol::MAX_KEYS_REQUEST_BYTES),
        ),
        (
            "MAX_INVITE_LIFETIME_MS",
            Value::Duration(protocol::MAX_INVITE_LIFETIME_MS),
        ),
        ("MAX_PENDING_INVITES", count(protocol::MAX_PENDING_INVITES)),
        (
            "holdfast_relay::MAX_JSON_BODY",
            bytes(holdfast_relay::MAX_JSON_BODY),
        ),
        (
            "holdfast_relay::DEFAULT_LOG_LIMIT",
            count(holdfast_relay::DEFAULT_LOG_LIMIT),
        ),
        (
            "holdfast_relay::MAX_LOG_LIMIT",
            count(holdfast_relay::MAX_LOG_LIMIT),
        ),
        (
            "holdfast_relay::DEFAULT_KEYS_LIMIT",
            count(holdfast_relay::DEFAULT_KEYS_LIMIT),
        ),
        (
            "holdfast_relay::MAX_KEYS_LIMIT",
            count(holdfast_relay::MAX_KEYS_LIMIT),
        ),
        (
            "holdfast_relay::MAX_PAGE_ITEM_BYTES",
            bytes(holdfast_relay::MAX_PAGE_ITEM_BYTES),
        ),
        (
            "holdfast_relay::storage::STAGED_TTL_MS",
            Value::Duration(holdfast_relay::storage::STAGED_TTL_MS),
        ),
        (
            "holdfast_relay::storage::sqlite::COMPACT_WINDOW_PER_ITEM",
            count(holdfast_relay::storage::sqlite::COMPACT_WINDOW_PER_ITEM),
        ),
        (
            "holdfast_relay::storage::sqlite::COMPACT_WINDOW_MIN",
            count(holdfast_relay::storage::sqlite::COMPACT_WINDOW_MIN),
        ),
        (
            "holdfast_relay::PING_INTERVAL",
            duration(holdfast_relay::PING_INTERVAL),
        ),
        ("Limits::max_body_bytes", bytes(l.max_body_bytes)),
        ("Limits::max_batch_envelopes", count(l.max_batch_envelopes)),
        ("Limits::max_envelope_bytes", bytes(l.max_envelope_bytes)),
        (
            "Limits::team_quota_envelopes",
            Value::Count(l.team_quota_envelopes),
        ),
        ("Limits::team_quota_bytes", Value::Bytes(l.team_quota_bytes)),
        ("Limits::default_pull_limit", count(l.default_pull_limit)),
        ("Limits::max_pull_limit", count(l.max_pull_limit)),
        ("Limits::max_page_bytes", bytes(l.max_page_bytes)),
        (
            "Limits::rate_limit_per_second",
            Value::PerSecond(l.rate_limit_per_second),
        ),
        (
            "Limits::rate_limit_burst",
            Value::Count(u64::from(l.rate_limit_burst)),
        ),
        (
            "Limits::address_rate_per_second",
            Value::PerSecond(l.address_rate_per_second),
        ),
        (
            "Limits::address_rate_burst",
            Value::Count(u64::from(l.address_rate_burst)),
        ),
        (
            "Limits::team_creations_per_hour",
            Value::PerHour(u64::from(l.team_creations_per_hour)),
        ),
        ("Limits::token_ttl_secs", secs(l.token_ttl_secs)),
        ("Limits::challenge_ttl_secs", secs(l.challenge_ttl_secs)),
        ("Limits::max_challenges", count(l.max_challenges)),
        (
            "Limits::max_challenges_per_address",
            count(l.max_challenges_per_address),
        ),
        ("Limits::max_clock_skew_secs", secs(l.max_clock_skew_secs)),
        ("Limits::max_connections", count(l.max_connections)),
        (
            "Limits::max_connections_per_address",
            count(l.max_connections_per_address),
        ),
        (
            "Limits::max_live_sockets_per_device",
            count(l.max_live_sockets_per_device),
        ),
        (
            "Limits::header_read_timeout_secs",
            secs(l.header_read_timeout_secs),
        ),
        ("Limits::request_timeout_secs", secs(l.request_timeout_secs)),
        (
            "Limits::shutdown_timeout_secs",
            secs(l.shutdown_timeout_secs),
        ),
        ("Limits::read_connections", count(l.read_connections)),
        ("Limits::database_pool_size", count(l.database_pool_size)),
    ];
    let mut map = BTreeMap::new();
    for (name, value) in relay {
        assert!(map.insert(name, value).is_none(), "{name} twice");
    }
    map
}

/// The leading number of `text` (digits, thousands commas, one decimal point) and the rest.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(text.len());
    let number = text[..end].trim_end_matches([',', '.']);
    if number.is_empty() {
        return None;
    }
    let value = number.replace(',', "").parse().ok()?;
    Some((value, &text[number.len()..]))
}

/// A value as the table writes it: a number, then a unit (or a noun for a count).
fn parse_value(cell: &str) -> Result<Value, String> {
    let (n, unit) = leading_number(cell.trim()).ok_or_else(|| format!("no number in {cell:?}"))?;
    let unit = unit.trim();
    let whole = |scale: f64| -> Result<u64, String> {
        let v = n * scale;
        if v.fract() == 0.0 && v >= 0.0 {
            Ok(v as u64)
        } else {
            Err(format!("{cell:?} is not a whole number of its unit"))
        }
    };
    Ok(match unit {
        "bytes" | "byte" => Value::Bytes(whole(1.0)?),
        "KiB" => Value::Bytes(whole(1024.0)?),
        "MiB" => Value::Bytes(whole(1024.0 * 1024.0)?),
        "GiB" => Value::Bytes(whole(1024.0 * 1024.0 * 1024.0)?),
        "ms" => Value::Duration(whole(1.0)?),
        "s" => Value::Duration(whole(1e3)?),
        "min" => Value::Duration(whole(60e3)?),
        "h" => Value::Duration(whole(3_600e3)?),
        "day" | "days" => Value::Duration(whole(86_400e3)?),
        "/s" => Value::PerSecond(n),
        "per hour" => Value::PerHour(whole(1.0)?),
        "" | "envelopes" | "entries" | "bundles" | "requests" => Value::Count(whole(1.0)?),
        other => return Err(format!("unknown unit {other:?} in {cell:?}")),
    })
}

/// The cells of the markdown table right under `heading` whose header row is `header`.
fn table_under<'a>(markdown: &'a str, heading: &str, header: &str) -> Vec<Vec<&'a str>> {
    let start = markdown
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("no {heading:?} heading"));
    let mut lines = markdown
        .lines()
        .skip(start + 1)
        .skip_while(|l| !l.starts_with('|'));
    assert_eq!(
        lines.next().map(str::trim),
        Some(header),
        "the first table under {heading:?} has another header"
    );
    lines.next(); // |---|---|
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(str::trim)
                .collect()
        })
        .collect()
}

#[test]
fn every_limit_in_protocol_md_is_the_codes() {
    let code = in_the_code();
    let rows = table_under(PROTOCOL_MD, TABLE_HEADING, TABLE_HEADER);
    let mut failures = Vec::new();
    let mut seen = BTreeMap::new();
    for row in &rows {
        let [limit, value, name] = row.as_slice() else {
            panic!("a row of three cells: {row:?}");
        };
        let name = name.trim_matches('`');
        if seen.insert(name, *limit).is_some() {
            failures.push(format!("{name} has two rows"));
        }
        let Some(expected) = code.get(name) else {
            failures.push(format!(
                "row {limit:?} names {name:?}, which this test does not check: add it to in_the_code()"
            ));
            continue;
        };
        match parse_value(value) {
            Ok(documented) if documented == *expected => {}
            Ok(documented) => failures.push(format!(
                "{limit}: PROTOCOL.md says {value} ({documented:?}), the code {name} is {expected:?}"
            )),
            Err(e) => failures.push(format!("{limit}: {e}")),
        }
    }
    for name in code.keys() {
        if !seen.contains_key(name) {
            failures.push(format!("{name} is checked but has no row in the table"));
        }
    }
    assert!(
        failures.is_empty(),
        "docs/PROTOCOL.md \"{TABLE_HEADING}\" and the code disagree:\n  {}",
        failures.join("\n  ")
    );
    assert_eq!(rows.len(), code.len());
}

/// The relay's flags and their defaults, as `holdfast-relay --help` has them.
fn relay_flag_defaults() -> BTreeMap<String, Option<String>> {
    holdfast_relay::Config::command()
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let default = arg
                .get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned());
            Some((format!("--{long}"), default))
        })
        .collect()
}

/// A documented default of a flag, in the flag's own unit (its default's: bytes, seconds,
/// per second, a count), or None when the text holds no number.
fn flag_value(text: &str) -> Option<f64> {
    let text = text
        .trim()
        .trim_start_matches(|c: char| c.is_alphabetic() || c == ' ');
    let (n, unit) = leading_number(text)?;
    let scale = match unit.trim_start().split([' ', ',', ';', ')']).next() {
        Some("KiB") => 1024.0,
        Some("MiB") => 1024.0 * 1024.0,
        Some("GiB") => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    Some(n * scale)
}

fn check_flag(
    defaults: &BTreeMap<String, Option<String>>,
    flag: &str,
    documented: f64,
    where_: &str,
    failures: &mut Vec<String>,
) {
    match defaults.get(flag) {
        None => failures.push(format!("{where_}: {flag} is not a relay flag")),
        Some(None) => failures.push(format!("{where_}: {flag} has no default")),
        Some(Some(default)) => {
            let code: f64 = default.parse().unwrap_or(f64::NAN);
            if code != documented {
                failures.push(format!(
                    "{where_}: {flag} is documented as {documented}, its default is {default}"
                ));
            }
        }
    }
}

#[test]
fn the_readme_flag_table_is_the_relays() {
    let defaults = relay_flag_defaults();
    let rows = table_under(
        README_MD,
        "### Running a relay for others",
        "| flag | default | what it bounds |",
    );
    // Rows whose default is not a number, said in words.
    let in_words = [
        "--database",
        "--team-creation",
        "--team-creation-token",
        "--trusted-proxy",
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in &rows {
        let flags: Vec<&str> = row[0]
            .split('`')
            .filter_map(|part| {
                let flag = part.split([' ', '=']).next()?;
                flag.starts_with("--").then_some(flag)
            })
            .collect();
        assert!(!flags.is_empty(), "a row without a flag: {row:?}");
        let values: Vec<Option<f64>> = row[1].split(", ").map(flag_value).collect();
        if values.iter().all(Option::is_none) {
            for flag in &flags {
                if !in_words.contains(flag) {
                    failures.push(format!("README: {flag}'s default has no number"));
                }
                if !defaults.contains_key(*flag) {
                    failures.push(format!("README: {flag} is not a relay flag"));
                }
            }
            continue;
        }
        if values.len() != flags.len() {
            failures.push(format!(
                "README: {} flags and {} defaults in {row:?}",
                flags.len(),
                values.len()
            ));
            continue;
        }
        for (flag, value) in flags.iter().zip(values) {
            match value {
                Some(v) => check_flag(&defaults, flag, v, "README", &mut failures),
                None => failures.push(format!("README: {flag}'s default has no number")),
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "README.md's relay flags:\n  {}",
        failures.join("\n  ")
    );
    assert!(checked >= 13, "only {checked} flags checked");
}

#[test]
fn every_flag_default_the_documents_mention_is_the_relays() {
    // `--flag` (value …), `--flag`, value or `--flag` value: a number right after a relay
    // flag is its default.
    let defaults = relay_flag_defaults();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, text) in [
        ("docs/PROTOCOL.md", PROTOCOL_MD),
        ("docs/SECURITY.md", SECURITY_MD),
        ("README.md", README_MD),
        ("ARCHITECTURE.md", ARCHITECTURE_MD),
        ("docs/OPERATIONS.md", OPERATIONS_MD),
    ] {
        for (i, _) in text.match_indices("`--") {
            let rest = &text[i + 1..];
            let Some(end) = rest.find('`') else { continue };
            let flag = &rest[..end];
            if !flag
                .trim_start_matches("--")
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
                || !defaults.contains_key(flag)
            {
                continue; // a command line, or another program's flag
            }
            let after = rest[end + 1..].trim_start_matches([' ', '(', ',', '\n']);
            if !after.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let Some(value) = flag_value(after) else {
                continue;
            };
            check_flag(&defaults, flag, value, file, &mut failures);
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "flag defaults in the documents:\n  {}",
        failures.join("\n  ")
    );
    assert!(checked >= 15, "only {checked} flag mentions checked");
}

#[test]
fn values_parse_as_the_table_writes_them() {
    assert_eq!(parse_value("3,600 s"), Ok(Value::Duration(3_600_000)));
    assert_eq!(parse_value("7 days"), Ok(Value::Duration(604_800_000)));
    assert_eq!(parse_value("4 MiB"), Ok(Value::Bytes(4 << 20)));
    assert_eq!(parse_value("100/s"), Ok(Value::PerSecond(100.0)));
    assert_eq!(parse_value("1,000 envelopes"), Ok(Value::Count(1000)));
    assert!(parse_value("3,600 parsecs").is_err());
    assert!(parse_value("1.5 bytes").is_err());
    assert_eq!(flag_value("burst 200"), Some(200.0));
    assert_eq!(
        flag_value("4 GiB of envelopes"),
        Some(4.0 * (1u64 << 30) as f64)
    );
    assert_eq!(flag_value("10,000)"), Some(10_000.0));
    assert_eq!(flag_value("none"), None);
}
