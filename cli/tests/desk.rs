//! `holdfast serve`, the supervisor's desk, driven over HTTP as a browser and as a stranger
//! would: the one-time token, the cookie, the checks on every form, what the pages show, and
//! a page that follows the team live. The browser itself (Chromium, keyboard, axe-core) is
//! `tests/browser/desk.mjs`.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::time::{Duration, Instant};

use common::{Answer, Device, Serving, http};
use holdfast_relay::testing::TestRelay;
use serde_json::Value;

/// A browser that opened the desk's link: its cookie and the desk's form token.
struct Browser {
    addr: String,
    cookie: String,
}

impl Browser {
    /// Opens the link as a browser does when it is clicked in a mail or chat page (a
    /// request another site started): the token for a cookie.
    fn open(desk: &Serving) -> Browser {
        let first = http(
            &desk.addr,
            "GET",
            &format!("/?token={}", desk.token),
            &[("Host", &desk.addr), ("Sec-Fetch-Site", "cross-site")],
            "",
        );
        // A page that moves on to the desk without the token (same-origin, so the cookie
        // goes with it even when the link was opened from another site).
        assert_eq!(first.status, 200, "{first:?}");
        assert!(
            first
                .body
                .contains("<meta http-equiv=\"refresh\" content=\"0; url=/\">"),
            "{}",
            first.body
        );
        let set = first.header("set-cookie").expect("a cookie").to_owned();
        let port = desk.addr.rsplit(':').next().unwrap();
        assert!(set.starts_with(&format!("holdfast_desk_{port}=")), "{set}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        let cookie = set.split(';').next().unwrap().to_owned();
        Browser {
            addr: desk.addr.clone(),
            cookie,
        }
    }

    fn get(&self, path: &str) -> Answer {
        http(
            &self.addr,
            "GET",
            path,
            &[("Host", &self.addr), ("Cookie", &self.cookie)],
            "",
        )
    }

    /// A form posted from the desk's own page.
    fn post(&self, path: &str, body: &str) -> Answer {
        let origin = format!("http://{}", self.addr);
        http(
            &self.addr,
            "POST",
            path,
            &[
                ("Host", &self.addr),
                ("Cookie", &self.cookie),
                ("Origin", &origin),
            ],
            body,
        )
    }

    /// A page that must be there.
    fn page(&self, path: &str) -> String {
        let a = self.get(path);
        assert_eq!(a.status, 200, "{path}: {a:?}");
        a.body
    }
}

/// The form token in a page.
fn form_token(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
    page[at..at + 64].to_owned()
}

/// `application/x-www-form-urlencoded`.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut out = String::new();
            for b in v.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        out.push(b as char)
                    }
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
            format!("{k}={out}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn patient(d: &Device, name: &str) -> String {
    d.json(&["patient", "add", "--name", name])["case_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn comments(d: &Device, case: &str) -> Vec<String> {
    let file = d.json(&["case", "show", case]);
    file["case_file"]["supervision"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|c| c["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_desk_opens_once_with_its_token_and_a_stranger_reads_and_changes_nothing() {
    let sam = Device::init("Sam Okafor");
    let case = patient(&sam, "Ada Lovelace");
    let desk = sam.serve(&["--offline"]);
    let addr = desk.addr.as_str();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(addr, "127.0.0.1:0");

    // Without the cookie: a page that says how to get in, and nothing of the records.
    for path in ["/", &format!("/cases/{case}"), "/events", "/report"] {
        let a = http(addr, "GET", path, &[("Host", addr)], "");
        assert_eq!(a.status, 401, "{path}: {a:?}");
        assert!(!a.body.contains("Ada"), "{path}: {}", a.body);
        assert!(a.body.contains("holdfast serve"), "{}", a.body);
    }
    // The stylesheet and script hold no records: served to anyone who names the desk.
    for path in ["/static/desk.css", "/static/desk.js"] {
        let a = http(addr, "GET", path, &[("Host", addr)], "");
        assert_eq!(a.status, 200, "{path}: {a:?}");
    }
    // The token under another name for the host (DNS rebinding): refused, and not spent.
    let rebound = http(
        addr,
        "GET",
        &format!("/?token={}", desk.token),
        &[("Host", &addr.replace("127.0.0.1", "evil.example"))],
        "",
    );
    assert_eq!(rebound.status, 421, "{rebound:?}");
    // A wrong token: refused, and the right one still works after it.
    let wrong = http(
        addr,
        "GET",
        &format!("/?token={}", "0".repeat(64)),
        &[("Host", addr)],
        "",
    );
    assert_eq!(wrong.status, 401, "{wrong:?}");

    let browser = Browser::open(&desk);
    // The link is spent: a second browser gets nothing.
    let again = http(
        addr,
        "GET",
        &format!("/?token={}", desk.token),
        &[("Host", addr)],
        "",
    );
    assert_eq!(again.status, 401, "{again:?}");
    assert!(again.header("set-cookie").is_none());
    // A made-up cookie gets nothing either.
    let port = addr.rsplit(':').next().unwrap();
    let forged = http(
        addr,
        "GET",
        "/",
        &[
            ("Host", addr),
            (
                "Cookie",
                &format!("holdfast_desk_{port}={}", "a".repeat(64)),
            ),
        ],
        "",
    );
    assert_eq!(forged.status, 401);
    // The right cookie under another host name (a rebound page in the same browser would not
    // send it, but a script might): refused all the same.
    let rebound = http(
        addr,
        "GET",
        "/",
        &[("Host", "evil.example"), ("Cookie", &browser.cookie)],
        "",
    );
    assert_eq!(rebound.status, 421, "{rebound:?}");
    assert!(!rebound.body.contains("Ada"));
    // A read another site started (a link or frame on another page, another port of this
    // computer included): refused though the browser sends the cookie.
    for site in ["cross-site", "same-site"] {
        let a = http(
            addr,
            "GET",
            &format!("/cases/{case}"),
            &[
                ("Host", addr),
                ("Cookie", &browser.cookie),
                ("Sec-Fetch-Site", site),
            ],
            "",
        );
        assert_eq!(a.status, 403, "{site}: {a:?}");
        assert!(!a.body.contains("Ada"), "{site}");
    }
    let own = http(
        addr,
        "GET",
        &format!("/cases/{case}"),
        &[
            ("Host", addr),
            ("Cookie", &browser.cookie),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        "",
    );
    assert_eq!(own.status, 200);

    // The browser that opened it reads the queue, with the security headers on.
    let queue = browser.get("/");
    assert_eq!(queue.status, 200, "{queue:?}");
    assert!(queue.body.contains("Ada Lovelace"), "{}", queue.body);
    assert!(queue.body.contains(&format!("/cases/{case}")));
    let csp = queue.header("content-security-policy").unwrap();
    for rule in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(rule), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(queue.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(queue.header("cache-control"), Some("no-store"));
    assert_eq!(queue.header("referrer-policy"), Some("same-origin"));
    // No inline script or style anywhere: the policy would block it.
    let scripts: Vec<&str> = queue
        .body
        .match_indices("<script")
        .map(|(i, _)| &queue.body[i..])
        .collect();
    assert_eq!(scripts.len(), 1, "one script, the desk's own file");
    assert!(scripts[0].starts_with("<script src=\"/static/desk.js\" defer></script>"));
    assert!(!queue.body.contains("style=") && !queue.body.contains("<style"));

    let page = browser.page(&format!("/cases/{case}"));
    let token = form_token(&page);
    let path = format!("/cases/{case}/comments");
    let text = "Check in about the <script>alert(1)</script> & the lunch club";
    let body = form(&[("csrf", &token), ("text", text)]);
    let origin = format!("http://{addr}");

    // A form from anywhere but the desk's own page changes nothing.
    /// What is tried, its headers, its body, and the refusal it must get.
    type Attempt<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u16);
    let attempts: Vec<Attempt> = vec![
        (
            "no cookie",
            vec![("Host", addr), ("Origin", &origin)],
            body.clone(),
            401,
        ),
        (
            "no origin",
            vec![("Host", addr), ("Cookie", &browser.cookie)],
            body.clone(),
            403,
        ),
        (
            "another site",
            vec![
                ("Host", addr),
                ("Cookie", &browser.cookie),
                ("Origin", "http://evil.example"),
            ],
            body.clone(),
            403,
        ),
        (
            "an opaque origin",
            vec![
                ("Host", addr),
                ("Cookie", &browser.cookie),
                ("Origin", "null"),
            ],
            body.clone(),
            403,
        ),
        (
            "a wrong form token",
            vec![
                ("Host", addr),
                ("Cookie", &browser.cookie),
                ("Origin", &origin),
            ],
            form(&[("csrf", &"b".repeat(64)), ("text", text)]),
            403,
        ),
        (
            "no form token",
            vec![
                ("Host", addr),
                ("Cookie", &browser.cookie),
                ("Origin", &origin),
            ],
            form(&[("text", text)]),
            422,
        ),
    ];
    for (what, headers, body, status) in &attempts {
        let a = http(addr, "POST", &path, headers, body);
        assert_eq!(a.status, *status, "{what}: {a:?}");
        assert!(a.header("location").is_none(), "{what}: {a:?}");
    }
    let unchanged = browser.page(&format!("/cases/{case}"));
    assert!(!unchanged.contains("lunch club"), "{unchanged}");

    // From the page itself: saved, escaped when shown.
    let done = browser.post(&path, &body);
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(
        done.header("location"),
        Some(format!("/cases/{case}?done=commented").as_str())
    );
    let shown = browser.page(&format!("/cases/{case}?done=commented"));
    assert!(shown.contains("Comment added."), "{shown}");
    assert!(
        shown.contains(
            "Check in about the &#60;script&#62;alert(1)&#60;/script&#62; &#38; the lunch club"
        ),
        "{shown}"
    );
    assert!(!shown.contains("<script>alert"), "{shown}");
    // Text in the address is never shown: only the desk's own notices.
    let spoof = browser.page(&format!("/cases/{case}?done=%3Cb%3Epwned"));
    assert!(!spoof.contains("pwned"), "{spoof}");

    // Each link worker's caseload, from the load table.
    let queue = browser.page("/");
    let at = queue.find("href=\"/caseloads/").expect("a caseload link") + 6;
    let link = queue[at..].split('"').next().unwrap().to_owned();
    let caseload = browser.page(&link);
    assert!(caseload.contains("Caseload: Sam Okafor"), "{caseload}");
    assert!(caseload.contains(&format!("/cases/{case}")), "{caseload}");
    assert!(
        browser
            .page("/caseloads/unassigned")
            .contains("No open cases.")
    );
    assert_eq!(browser.get("/caseloads/not-a-device").status, 404);

    // The outcomes report: the seeded period by default, any period asked for, a bad date
    // refused plainly.
    let report = browser.page("/report");
    assert!(report.contains("<h1>Outcomes report</h1>"), "{report}");
    assert!(report.contains("data-live=\"off\""));
    let leap = browser.page("/report?to=2028-02-29");
    assert!(
        leap.contains("value=\"2027-03-02\""),
        "365 days to 29 February: {leap}"
    );
    for bad in [
        "/report?from=yesterday",
        "/report?from=2026-12-01&to=2026-01-01",
    ] {
        let a = browser.get(bad);
        assert_eq!(a.status, 422, "{bad}: {a:?}");
    }

    // Pages that are not there say so, with no records.
    for path in [
        "/cases/not-a-case",
        "/cases/00000000000000000000000000000000",
        "/nope",
    ] {
        let a = browser.get(path);
        assert_eq!(a.status, 404, "{path}: {a:?}");
        assert!(!a.body.contains("Ada"));
    }
    // A status that is not one: refused, nothing changed.
    let bad = browser.post(
        &format!("/cases/{case}/status"),
        &form(&[("csrf", &token), ("status", "on_a_boat")]),
    );
    assert_eq!(bad.status, 422, "{bad:?}");
    drop(desk);
    assert_eq!(
        comments(&sam, &case),
        vec![text.to_owned()],
        "one comment, saved once"
    );
}

/// Reads a desk's event stream on a thread of its own; `changed()` waits for the next
/// `changed` event.
struct Events {
    rx: std::sync::mpsc::Receiver<String>,
}

impl Events {
    /// Opens `/events?since=N` (`since`: the generation a page was made at) and reads the
    /// answer's head: once it is here the desk is subscribed to the store's changes.
    fn open(browser: &Browser, since: Option<u64>) -> Events {
        let mut stream = std::net::TcpStream::connect(&browser.addr).unwrap();
        let query = since.map(|n| format!("?since={n}")).unwrap_or_default();
        write!(
            stream,
            "GET /events{query} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nAccept: \
             text/event-stream\r\n\r\n",
            browser.addr, browser.cookie
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            head.push(line.trim().to_lowercase());
        }
        assert!(head[0].starts_with("http/1.1 200"), "{head:?}");
        assert!(
            head.iter().any(|h| h == "content-type: text/event-stream"),
            "{head:?}"
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Events { rx }
    }

    /// Waits up to `limit` for a `changed` event.
    fn changed(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(line) if line.trim() == "event: changed" => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }
}

fn code(admin: &Device, role: &str) -> String {
    admin.json(&["invite", "create", "--role", role])["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_supervisor_settles_a_contested_status_and_comments_and_the_page_follows_the_team_live() {
    let relay = TestRelay::blocking_start();
    let url = relay.url();
    let lee = Device::init("Lee Quinn");
    let priya = Device::init("Priya Natarajan");
    let sam = Device::init("Sam Okafor");
    lee.ok(&["team", "create", "--relay", &url]);
    priya.ok(&["invite", "redeem", &code(&lee, "link-worker")]);
    sam.ok(&["invite", "redeem", &code(&lee, "supervisor")]);
    let case = patient(&lee, "Ada Lovelace");
    lee.ok(&[
        "referral", "add", &case, "--source", "gp", "--reason", "lonely",
    ]);
    lee.ok(&["status", "set", &case, "active"]);
    lee.ok(&["sync"]);
    priya.ok(&["sync"]);
    // Two link workers move the case at once, offline from each other.
    lee.ok(&[
        "status",
        "set",
        &case,
        "holding",
        "--reason",
        "waiting list",
    ]);
    priya.ok(&[
        "status",
        "set",
        &case,
        "tapering",
        "--reason",
        "settling in",
    ]);
    lee.ok(&["sync"]);
    priya.ok(&["sync"]);
    sam.ok(&["sync"]);

    let desk = sam.serve(&[]);
    let browser = Browser::open(&desk);
    let queue = browser.page("/");
    assert!(queue.contains("Ada Lovelace"), "{queue}");
    assert!(queue.contains("status contested"), "{queue}");
    let page = browser.page(&format!("/cases/{case}"));
    // The choice, with who set what: in the status form, not just anywhere on the page.
    let form_at = page.find("/status\">").expect("the status form");
    let form_html = &page[form_at..form_at + page[form_at..].find("</form>").unwrap()];
    for says in [
        "value=\"holding\"",
        "value=\"tapering\"",
        "set by Lee Quinn",
        "set by Priya Natarajan",
    ] {
        assert!(form_html.contains(says), "missing {says}: {form_html}");
    }
    assert!(page.contains("Contested:"), "{page}");
    let token = form_token(&page);

    // A change on a link worker's device reaches the open page without a reload.
    let events = Events::open(&browser, None);
    lee.ok(&[
        "session",
        "record",
        &case,
        "--mode",
        "phone",
        "--minutes",
        "20",
        "--note",
        "Walked to the allotment together",
    ]);
    lee.ok(&["sync"]);
    assert!(
        events.changed(Duration::from_secs(30)),
        "no change event reached the page"
    );
    // The event says the records changed; the desk's own pull may bring the session a
    // moment later than the first event of its sync.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let after = browser.page(&format!("/cases/{case}"));
        if after.contains("Walked to the allotment together") {
            break;
        }
        assert!(Instant::now() < until, "the session never showed: {after}");
        assert!(
            events.changed(Duration::from_secs(30)),
            "no further change event"
        );
    }

    // A page made before that change, coming back into view, hears at once that the records
    // moved on since its generation.
    let generation = |page: &str| -> u64 {
        let at = page.find("data-generation=\"").expect("a generation") + 17;
        page[at..].split('"').next().unwrap().parse().unwrap()
    };
    let made_at = generation(&page);
    let now = generation(&browser.page(&format!("/cases/{case}")));
    assert!(now > made_at, "{now} after {made_at}");
    let behind = Events::open(&browser, Some(made_at));
    assert!(
        behind.changed(Duration::from_secs(5)),
        "a page behind was not told"
    );

    // Settle the status, comment, mark reviewed.
    let settled = browser.post(
        &format!("/cases/{case}/status"),
        &form(&[("csrf", &token), ("status", "tapering")]),
    );
    assert_eq!(settled.status, 303, "{settled:?}");
    let page = browser.page(&format!("/cases/{case}?done=resolved"));
    assert!(page.contains("Status settled."), "{page}");
    assert!(!page.contains("Contested:"), "{page}");
    let said = browser.post(
        &format!("/cases/{case}/comments"),
        &form(&[("csrf", &token), ("text", "Well held. Talk on Friday?")]),
    );
    assert_eq!(said.status, 303, "{said:?}");

    // The comment and the settled status reach the link worker through the relay.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        lee.ok(&["sync"]);
        let file = lee.json(&["case", "show", &case]);
        let status: &Value = &file["case_file"]["status"];
        let got = comments(&lee, &case);
        if got == vec!["Well held. Talk on Friday?".to_owned()]
            && status["claims"].as_array().map(Vec::len) == Some(1)
        {
            assert_eq!(status["claims"][0]["value"], "tapering", "{file}");
            break;
        }
        assert!(
            Instant::now() < until,
            "the desk's edits did not reach Lee: {file}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Reviewed: the case leaves the queue (nothing open, nothing contested).
    let page = browser.page(&format!("/cases/{case}"));
    let holds = |name: &str| -> String {
        let at = page
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no {name} in {page}"))
            + name.len()
            + 15;
        page[at..].split('"').next().unwrap().to_owned()
    };
    let fields: Vec<(&str, String)> = [
        "sessions",
        "status_moves",
        "measures",
        "safeguarding",
        "comments",
        "handovers",
    ]
    .iter()
    .map(|n| (*n, holds(n)))
    .collect();
    let mut pairs: Vec<(&str, &str)> = vec![("csrf", &token)];
    pairs.extend(fields.iter().map(|(n, v)| (*n, v.as_str())));
    let reviewed = browser.post(&format!("/cases/{case}/reviewed"), &form(&pairs));
    assert_eq!(reviewed.status, 303, "{reviewed:?}");
    let queue = browser.page("/");
    assert!(!queue.contains("Ada Lovelace"), "{queue}");
    assert!(queue.contains("Nothing to review"), "{queue}");
    drop(desk);
    drop(relay);
}
