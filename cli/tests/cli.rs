//! The `holdfast` binary end to end, in a temporary folder: what a link worker types, what
//! they read back, and what happens when they type something wrong.

mod common;

use common::Device;
use serde_json::Value;

/// Sets up the store with one accepted patient; returns the case id.
fn with_patient(d: &Device) -> String {
    d.ok(&["init", "--name", "Sam Okafor"]);
    let case = d.json(&["patient", "add", "--name", "Ada Lovelace"]);
    let case_id = case["case_id"].as_str().unwrap().to_owned();
    let r = d.json(&[
        "referral", "add", &case_id, "--source", "gp", "--reason", "lonely",
    ]);
    let referral = r["referral_id"].as_str().unwrap();
    d.ok(&["referral", "accept", &case_id, referral]);
    case_id
}

const SERVICES: &str = r#"[
  {"id": "svc-1", "name": "Tuesday Walking Group",
   "description": "A gentle walk round Woodhouse Moor, then tea.",
   "organization": {"name": "Leeds Walks"},
   "service_taxonomys": [{"taxonomy": {"name": "physical activity"}}],
   "service_at_locations": [{"location": {"physical_addresses": [
      {"address_1": "Woodhouse Moor", "city": "Leeds", "postal_code": "LS6 2AB"}]}}]},
  {"id": "svc-2", "name": "Money Advice Drop-in", "description": "Benefits and debt.",
   "status": "sideways"}
]"#;

#[test]
fn a_link_workers_day_from_referral_to_export() {
    let d = Device::new();
    let init = d.ok(&["init", "--name", "Sam Okafor"]);
    assert!(init.contains("device id"), "{init}");
    assert!(init.contains("holdfast-store.key"), "{init}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = d.home().join("keys/holdfast-store.key");
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let added = d.ok(&[
        "patient",
        "add",
        "--name",
        "Ada Lovelace",
        "--nhs-number",
        "943 476 5919",
        "--dob",
        "1950-03-02",
        "--postcode",
        "ls62ab",
        "--contact",
        "phone",
        "--practice",
        "Hyde Park Surgery",
    ]);
    let case_id = added
        .lines()
        .find_map(|l| l.trim().strip_prefix("case id"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(case_id.len(), 32, "{added}");
    // A short prefix is enough from here on.
    let c = &case_id[..8];

    let referral = d.json(&[
        "referral",
        "add",
        c,
        "--source",
        "gp",
        "--referrer",
        "Dr Patel",
        "--reason",
        "isolated since bereavement",
        "--need",
        "loneliness",
        "--need",
        "money",
        "--received",
        "2026-11-01",
    ]);
    let referral_id = referral["referral_id"].as_str().unwrap().to_owned();
    let accepted = d.ok(&["referral", "accept", c, &referral_id[..6]]);
    assert!(accepted.contains("now active"), "{accepted}");

    let session = d.json(&[
        "session",
        "record",
        c,
        "--mode",
        "home-visit",
        "--minutes",
        "45",
        "--note",
        "talked about the allotment",
        "--follow-up",
        "2026-12-01",
        "--at",
        "2026-11-02 10:00",
    ]);
    assert_eq!(session["case_id"], case_id.as_str());

    let first = d.ok(&[
        "measure",
        "record",
        "ons4",
        c,
        "--answers",
        "4,5,3,7",
        "--on",
        "2026-11-02",
    ]);
    assert!(first.contains("anxiety 7 (high"), "{first}");
    let second = d.json(&[
        "measure",
        "record",
        "ons4",
        c,
        "--answers",
        "6,5,4,5",
        "--on",
        "2026-12-02",
    ]);
    assert_eq!(
        second["change_first_to_latest"]["change"]["ons4"]["anxiety"],
        -2
    );
    let swemwbs = d.ok(&[
        "measure",
        "record",
        "swemwbs",
        c,
        "--answers",
        "3,3,3,3,3,3,3",
    ]);
    assert!(swemwbs.contains("19.25"), "{swemwbs}");
    assert!(swemwbs.contains("NHS Health Scotland"), "{swemwbs}");
    let not_done = d.json(&[
        "measure",
        "not-completed",
        "gse",
        c,
        "--reason",
        "distressing",
        "--on",
        "2026-12-02",
    ]);
    assert_eq!(not_done["reason"], "distressing");
    assert_eq!(not_done["instrument"], "gse");
    let shown = d.ok(&["case", "show", c]);
    assert!(
        shown.contains("2026-12-02 GSE     not completed: distressing"),
        "{shown}"
    );
    d.fails(
        &["measure", "not-completed", "gse", c, "--reason", "bored"],
        2,
    );

    let caseload = d.ok(&["caseload"]);
    assert!(caseload.contains("Ada Lovelace"), "{caseload}");
    assert!(caseload.contains("active"), "{caseload}");
    assert!(caseload.contains("2026-11-02"), "{caseload}");
    assert!(caseload.contains("2026-12-01"), "{caseload}");
    assert!(caseload.contains(c), "{caseload}");
    let rows = d.json(&["caseload", "--status", "active"]);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["patient_name"], "Ada Lovelace");
    assert_eq!(
        d.json(&["caseload", "--status", "holding"]),
        serde_json::json!([])
    );

    d.ok(&[
        "status",
        "set",
        c,
        "holding",
        "--reason",
        "waiting for counselling",
    ]);
    d.ok(&[
        "safeguarding",
        "raise",
        c,
        "--description",
        "bruising noticed",
        "--escalate",
        "local_authority",
    ]);
    d.ok(&["supervision", "comment", c, "check in next week"]);
    let shown = d.ok(&["case", "show", c]);
    for expected in [
        "Ada Lovelace",
        "943 476 5919",
        "LS6 2AB",
        "Status: holding",
        "active → holding",
        "from GP (Dr Patel)",
        "talked about the allotment",
        "ONS4 change, 2026-11-02 → 2026-12-02",
        "anxiety -2 (better)",
        "escalated to local authority",
        "check in next week",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
    let history = d.json(&["case", "history", c]);
    assert!(history["history"].as_array().unwrap().len() >= 8);

    // The action plan, found from the case id.
    d.ok(&["plan", "what-matters", c, "Getting back to my allotment"]);
    let goal = d.json(&["goal", "add", c, "Go to the allotment once a week"]);
    let goal_id = goal["goal_id"].as_str().unwrap().to_owned();
    let step = d.json(&[
        "step",
        "add",
        c,
        "Ring the allotment society",
        "--goal",
        &goal_id[..6],
        "--owner",
        "link_worker",
        "--due",
        "2026-12-10",
    ]);
    let step_id = step["step_id"].as_str().unwrap().to_owned();
    d.ok(&["step", "done", c, &step_id]);
    d.ok(&["goal", "status", c, &goal_id, "in_progress"]);
    d.ok(&["plan", "comment", c, "Looking forward to it"]);
    let plan = d.json(&["plan", "show", c]);
    assert_eq!(plan["plan"]["what_matters"], "Getting back to my allotment");
    assert_eq!(plan["plan"]["goals"][0]["status"], "in_progress");
    assert_eq!(plan["plan"]["steps"][0]["done"], true);
    assert_eq!(plan["plan"]["steps"][0]["owner"], "link_worker");
    let plan_id = plan["plan_id"].as_str().unwrap().to_owned();
    let readable = d.ok(&["plan", "show", &plan_id]);
    assert!(readable.contains("✓"), "{readable}");
    assert!(readable.contains("Go to the allotment once a week (in progress)"));
    d.ok(&["step", "done", &plan_id, &step_id, "--undo"]);
    assert_eq!(
        d.json(&["plan", "show", &plan_id[..8]])["plan"]["steps"][0]["done"],
        false
    );

    // Export: stdout by default, or a file only the owner can read.
    let export: Value = serde_json::from_str(&d.ok(&["export"])).unwrap();
    assert!(export.to_string().contains("talked about the allotment"));
    assert_eq!(export["case_files"].as_array().unwrap().len(), 1);
    let out = d.path("export.json");
    let summary = d.json(&["export", "--out", out.to_str().unwrap()]);
    assert_eq!(summary["case_files"], 1);
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written, export);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let d = Device::new();
    let case = with_patient(&d);
    let c = &case[..8];
    let caseload = d.json(&["caseload"]);
    let file = d.json(&["case", "show", c]);

    let nhs = d.fails(
        &[
            "patient",
            "add",
            "--name",
            "Bob",
            "--nhs-number",
            "943 476 5918",
        ],
        1,
    );
    assert!(nhs.contains("NHS number"), "{nhs}");
    assert!(!nhs.contains("5918"), "the number is patient data: {nhs}");
    let postcode = d.fails(
        &["patient", "add", "--name", "Bob", "--postcode", "nowhere"],
        1,
    );
    assert!(postcode.contains("postcode"), "{postcode}");

    let range = d.fails(
        &["measure", "record", "ons4", c, "--answers", "7,11,3,2"],
        1,
    );
    assert!(range.contains("item 2 was answered 11"), "{range}");
    let missing = d.fails(&["measure", "record", "ons4", c, "--answers", "7,,3,2"], 1);
    assert!(missing.contains("item 2 has no answer"), "{missing}");
    let count = d.fails(&["measure", "record", "gse", c, "--answers", "1,2,3"], 1);
    assert!(count.contains("10 items"), "{count}");
    let words = d.fails(
        &["measure", "record", "ons4", c, "--answers", "7,lots,3,2"],
        1,
    );
    assert!(words.contains("item 2"), "{words}");

    let dna = d.fails(
        &[
            "session",
            "record",
            c,
            "--mode",
            "phone",
            "--minutes",
            "2000",
            "--note",
            "x",
        ],
        1,
    );
    assert!(dna.contains("duration"), "{dna}");

    assert_eq!(d.json(&["caseload"]), caseload);
    assert_eq!(d.json(&["case", "show", c]), file);

    // Lifecycle: a new referral cannot go straight to holding.
    let fresh = d.json(&["patient", "add", "--name", "Cleo"]);
    let f = fresh["case_id"].as_str().unwrap().to_owned();
    let illegal = d.fails(&["status", "set", &f, "holding"], 1);
    assert!(illegal.contains("from referred to holding"), "{illegal}");
    let no_conflict = d.fails(&["status", "resolve", &f, "active"], 1);
    assert!(no_conflict.contains("not in conflict"), "{no_conflict}");
    assert_eq!(
        d.json(&["case", "show", &f])["case_file"]["status"]["claims"][0]["value"],
        "referred"
    );

    // Ids that match nothing, or too little.
    let unknown = d.fails(&["case", "show", "abcdef"], 1);
    assert!(unknown.contains("no case"), "{unknown}");
    let short = d.fails(&["case", "show", "abc"], 1);
    assert!(short.contains("at least 6"), "{short}");
    let goal = d.fails(&["goal", "status", c, "ffffffff", "achieved"], 1);
    assert!(goal.contains("no goal"), "{goal}");
}

#[test]
fn command_line_mistakes_exit_2_with_one_line() {
    let d = Device::new();
    with_patient(&d);
    for (args, says) in [
        (&["int"][..], "unrecognized subcommand"),
        (&["patient", "add"][..], "--name"),
        (
            &[
                "session",
                "record",
                "abcdef",
                "--mode",
                "teleport",
                "--minutes",
                "5",
                "--note",
                "x",
            ][..],
            "home_visit",
        ),
        (&["caseload", "--due-by", "01/12/2026"][..], "YYYY-MM-DD"),
        (
            &["measure", "record", "phq9", "abcdef", "--answers", "1"][..],
            "ons4",
        ),
    ] {
        let line = d.fails(args, 2);
        assert!(line.contains(says), "{args:?}: {line}");
        assert!(line.contains("--help"), "{args:?}: {line}");
    }

    let help = d.ok(&["--help"]);
    assert!(help.contains("encrypted"), "{help}");
    assert!(help.contains("holdfast-store.key"), "{help}");
    let help = d.ok(&["session", "record", "--help"]);
    assert!(help.contains("did-not-attend"), "{help}");
}

#[test]
fn a_missing_store_or_key_is_explained() {
    let d = Device::new();
    let none = d.fails(&["caseload"], 1);
    assert!(none.contains("holdfast init"), "{none}");
    d.ok(&["init", "--name", "Sam Okafor"]);
    let again = d.fails(&["init", "--name", "Sam Okafor"], 1);
    assert!(again.contains("already exists"), "{again}");
    let elsewhere = d.path("no-keys");
    let locked = d.fails(&["--keys", elsewhere.to_str().unwrap(), "caseload"], 1);
    assert!(locked.contains("key file"), "{locked}");
}

#[test]
fn directory_import_is_all_or_nothing() {
    let d = Device::new();
    let case = with_patient(&d);

    for (name, content, says) in [
        ("broken.json", "[{\"name\": \"Walk\"", "not valid JSON"),
        (
            "nameless.json",
            "[{\"id\": \"x\", \"description\": \"no name\"}]",
            "no `name`",
        ),
        ("numbers.json", "[1, 2, 3]", "import refused"),
    ] {
        let file = d.file(name, content);
        let line = d.fails(&["directory", "import", file.to_str().unwrap()], 1);
        assert!(line.contains(says), "{name}: {line}");
    }
    assert_eq!(d.json(&["directory", "list"]), serde_json::json!([]));
    assert_eq!(d.json(&["directory", "search"]), serde_json::json!([]));

    let file = d.file("leeds-north.json", SERVICES);
    let imported = d.ok(&["directory", "import", file.to_str().unwrap()]);
    assert!(imported.contains("Imported 2 services"), "{imported}");
    assert!(imported.contains("1 warning"), "{imported}");
    assert!(imported.contains("sideways"), "{imported}");
    let list = d.json(&["directory", "list"]);
    assert_eq!(list[0]["area"], "leeds-north");
    assert_eq!(list[0]["assets"], 2);

    // Importing again updates the same services rather than adding them twice.
    let again = d.json(&["directory", "import", file.to_str().unwrap()]);
    assert_eq!(again["directory_created"], false);
    assert_eq!(d.json(&["directory", "list"])[0]["assets"], 2);

    let hits = d.json(&["directory", "search", "walk", "--district", "LS6"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    let dir = hits[0]["directory_id"].as_str().unwrap().to_owned();
    let asset = hits[0]["asset_id"].as_str().unwrap().to_owned();
    let readable = d.ok(&["directory", "search", "walk"]);
    assert!(readable.contains("Tuesday Walking Group"), "{readable}");
    let shown = d.ok(&["directory", "show", &dir[..8], &asset]);
    assert!(shown.contains("Woodhouse Moor"), "{shown}");
    assert!(shown.contains("physical activity"), "{shown}");

    let step = d.json(&[
        "step",
        "add",
        &case,
        "Try the walking group",
        "--asset",
        &format!("{}:{asset}", &dir[..8]),
    ]);
    assert!(step["step_id"].is_string());
    let step_id = step["step_id"].as_str().unwrap().to_owned();
    // The connection: suggested when linked; then what happened, dated, by whom.
    let demand = d.json(&["directory", "demand"]);
    assert_eq!(demand[0]["asset"], asset.as_str(), "{demand}");
    assert_eq!(demand[0]["name"], "Tuesday Walking Group");
    assert_eq!(
        (demand[0]["people"].clone(), demand[0]["suggested"].clone()),
        (1.into(), 1.into())
    );
    let connected = d.json(&["step", "connect", &case, &step_id, "waiting_list"]);
    assert_eq!(connected["status"], "waiting_list", "{connected}");
    let demand = d.json(&["directory", "demand", &dir[..8]]);
    assert_eq!(demand[0]["waiting_list"], 1, "{demand}");
    assert_eq!(demand[0]["suggested"], 0);
    let table = d.ok(&["directory", "demand"]);
    assert!(table.contains("Tuesday Walking Group"), "{table}");
    let shown = d.ok(&["plan", "show", &case]);
    assert!(shown.contains("(waiting list since"), "{shown}");
    let line = d.fails(
        &[
            "step",
            "connect",
            &case,
            &step_id,
            "attended",
            "--on",
            "2999-01-01",
        ],
        1,
    );
    assert!(line.contains("not ahead of time"), "{line}");
    let line = d.fails(&["step", "connect", &case, &step_id, "went"], 2);
    assert!(line.contains("still_going"), "{line}");
    let bad = d.fails(
        &[
            "step",
            "add",
            &case,
            "x",
            "--asset",
            &format!("{dir}:0000000000000000"),
        ],
        1,
    );
    assert!(bad.contains("no asset"), "{bad}");

    // With two directories, the import must be told which.
    d.ok(&["directory", "create", "Leeds South"]);
    let which = d.fails(&["directory", "import", file.to_str().unwrap()], 1);
    assert!(which.contains("--directory"), "{which}");
    let into = d.json(&[
        "directory",
        "import",
        file.to_str().unwrap(),
        "--directory",
        &dir,
    ]);
    assert_eq!(into["directory_id"], dir.as_str());
}

#[test]
fn seeded_demo_data_lists_and_reads() {
    let d = Device::new();
    d.ok(&["init", "--name", "Demo"]);
    let seeded = d.json(&["seed", "--patients", "5", "--assets", "20"]);
    assert_eq!(seeded["patients"], 5);
    assert_eq!(seeded["assets"], 20);
    let caseload = d.json(&["caseload"]);
    let rows = caseload.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        let id = row["case_id"].as_str().unwrap();
        let shown = d.ok(&["case", "show", &id[..8]]);
        assert!(shown.contains(row["patient_name"].as_str().unwrap()));
        d.ok(&["plan", "show", id]);
        d.ok(&["case", "history", id]);
    }
    assert!(d.ok(&["caseload"]).contains("5 cases."));
    let hits = d.json(&["directory", "search", "--limit", "50"]);
    assert_eq!(hits.as_array().unwrap().len(), 20);
}

#[test]
fn a_second_case_for_the_same_nhs_number_is_refused_unless_deliberate() {
    let d = Device::new();
    d.ok(&["init", "--name", "Sam Okafor"]);
    let first = d.json(&[
        "patient",
        "add",
        "--name",
        "Ada Lovelace",
        "--nhs-number",
        "943 476 5919",
    ]);
    let first = first["case_id"].as_str().unwrap().to_owned();
    // Written differently, the same number: refused, naming the case to re-refer on.
    let refused = d.fails(
        &[
            "patient",
            "add",
            "--name",
            "Ada King",
            "--nhs-number",
            "9434765919",
        ],
        1,
    );
    assert!(refused.contains(&first), "{refused}");
    assert!(refused.contains("referral add"), "{refused}");
    assert!(refused.contains("--deliberate-duplicate"), "{refused}");
    assert!(
        !refused.contains("9434765919"),
        "the number is patient data: {refused}"
    );
    assert_eq!(
        d.json(&["caseload"]).as_array().unwrap().len(),
        1,
        "nothing added"
    );
    // Said to be deliberate, it is created; another number never was a duplicate.
    d.ok(&[
        "patient",
        "add",
        "--name",
        "Ada King",
        "--nhs-number",
        "9434765919",
        "--deliberate-duplicate",
    ]);
    d.ok(&[
        "patient",
        "add",
        "--name",
        "Alan Turing",
        "--nhs-number",
        "401 023 2137",
    ]);
    assert_eq!(d.json(&["caseload"]).as_array().unwrap().len(), 3);
}

/// The one item of `kind` in a `worklist --json`, if any.
fn work_item<'a>(list: &'a Value, kind: &str) -> Option<&'a Value> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind)
}

#[test]
fn review_queue_reviews_and_load_on_one_device() {
    let d = Device::new();
    let case = with_patient(&d);
    let c = &case[..8];

    // Never reviewed: in the queue, saying so, with who holds it (the creator).
    let queue = d.json(&["supervision", "queue"]);
    let rows = queue.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{queue}");
    assert_eq!(rows[0]["case_id"], case.as_str());
    assert_eq!(rows[0]["reviewed_at"], Value::Null);
    assert_eq!(rows[0]["changes"], "never reviewed");
    assert_eq!(rows[0]["holder"]["name"], "Sam Okafor");
    assert_eq!(rows[0]["status"], "active");
    assert_eq!(rows[0]["days_in_status"], 0);
    let text = d.ok(&["supervision", "queue"]);
    for says in [
        "never reviewed",
        "Sam Okafor",
        "Ada Lovelace",
        "active (0 days)",
        c,
        "1 case to review",
    ] {
        assert!(text.contains(says), "missing {says:?} in\n{text}");
    }

    // Reviewed: the counters recorded, and the queue is empty.
    let reviewed = d.json(&["supervision", "review", c]);
    assert_eq!(reviewed["previously_reviewed_at"], Value::Null);
    assert_eq!(reviewed["changes"], "never reviewed");
    assert_eq!(reviewed["comment_id"], Value::Null);
    assert_eq!(reviewed["seen"]["status_moves"], 2, "{reviewed}");
    assert_eq!(reviewed["seen"]["handovers"], 1, "{reviewed}");
    assert_eq!(reviewed["seen"]["sessions"], 0, "{reviewed}");
    assert_eq!(d.json(&["supervision", "queue"]), serde_json::json!([]));
    assert!(
        d.ok(&["supervision", "queue"])
            .contains("Nothing to review")
    );

    // A session and a status move bring it back, saying what changed.
    d.ok(&[
        "session",
        "record",
        c,
        "--mode",
        "phone",
        "--minutes",
        "20",
        "--note",
        "a chat",
    ]);
    d.ok(&["status", "set", c, "holding", "--reason", "waiting list"]);
    let queue = d.json(&["supervision", "queue"]);
    assert_eq!(
        queue[0]["changes"], "1 new session, 1 status move",
        "{queue}"
    );
    assert_eq!(queue[0]["changed"]["sessions"], 1);
    assert_eq!(queue[0]["changed"]["comments"], 0);
    assert!(queue[0]["reviewed_at"].is_i64(), "{queue}");
    assert_eq!(queue[0]["status"], "holding");
    // Reviewed with a comment: the text says what changed; the comment does not bring the
    // case back.
    let text = d.ok(&[
        "supervision",
        "review",
        c,
        "--comment",
        "check the bus pass",
    ]);
    assert!(
        text.contains("Since your last review") && text.contains("1 new session, 1 status move"),
        "{text}"
    );
    assert!(text.contains("Supervision comment added"), "{text}");
    assert!(text.contains("1 comment"), "{text}");
    assert_eq!(d.json(&["supervision", "queue"]), serde_json::json!([]));
    let again = d.json(&["supervision", "review", c]);
    assert_eq!(again["changes"], "nothing new");
    assert!(again["previously_reviewed_at"].is_i64(), "{again}");
    assert_eq!(again["seen"]["comments"], 1);

    // The comment reaches the link worker holding the case (this device) until acknowledged.
    let comments = d.json(&["supervision", "comments"]);
    assert_eq!(comments.as_array().unwrap().len(), 1, "{comments}");
    assert_eq!(comments[0]["case_id"], case.as_str());
    assert_eq!(comments[0]["comment"]["text"], "check the bus pass");
    assert_eq!(comments[0]["comment"]["by"], "Sam Okafor");
    let comment_id = comments[0]["comment"]["id"].as_str().unwrap().to_owned();
    let listed = d.ok(&["supervision", "comments"]);
    assert!(
        listed.contains("check the bus pass") && listed.contains(&comment_id[..8]),
        "{listed}"
    );
    assert!(
        d.ok(&["case", "show", c]).contains("not acknowledged yet"),
        "before the acknowledgement"
    );
    let unknown = d.fails(&["supervision", "ack", c, "ffffffff"], 1);
    assert!(unknown.contains("no supervision comment"), "{unknown}");
    let acked = d.json(&["supervision", "ack", c, &comment_id[..8]]);
    assert_eq!(acked["comment_id"], comment_id.as_str());
    assert_eq!(acked["already"], false);
    assert!(acked["acknowledged_at"].is_i64());
    assert_eq!(d.json(&["supervision", "comments"]), serde_json::json!([]));
    let twice = d.json(&["supervision", "ack", c, &comment_id]);
    assert_eq!(twice["already"], true);
    assert_eq!(twice["acknowledged_at"], acked["acknowledged_at"]);
    let shown = d.ok(&["case", "show", c]);
    for says in [
        "Held by: Sam Okafor (device ",
        "assigned to Sam Okafor (device ",
        "acknowledged by Sam Okafor at",
        "Reviewed by Sam Okafor",
        &comment_id[..8],
    ] {
        assert!(shown.contains(says), "missing {says:?} in\n{shown}");
    }

    // Load: one row, this device's, against the limits given (the defaults otherwise).
    let load = d.json(&["supervision", "load"]);
    assert_eq!(load["limits"]["accepted_per_year"], 250);
    assert_eq!(load["limits"]["held_days"], 60);
    let workers = load["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{load}");
    assert_eq!(workers[0]["worker"]["name"], "Sam Okafor");
    assert_eq!(workers[0]["holding"], 1);
    assert_eq!(workers[0]["active"], 0);
    assert_eq!(workers[0]["accepted_last_year"], 1);
    assert_eq!(workers[0]["over_accepted_limit"], false);
    assert_eq!(workers[0]["held_too_long"], 0);
    assert!(!d.ok(&["supervision", "load"]).contains("OVER"));
    let strict = d.json(&[
        "supervision",
        "load",
        "--accepted-per-year",
        "0",
        "--held-days",
        "0",
        "--max-sessions",
        "0",
    ]);
    assert_eq!(strict["limits"]["accepted_per_year"], 0);
    let w = &strict["workers"][0];
    assert_eq!(w["over_accepted_limit"], true, "{strict}");
    assert_eq!(w["held_too_long"], 1, "{strict}");
    assert_eq!(w["many_sessions"], 1, "{strict}");
    let text = d.ok(&["supervision", "load", "--accepted-per-year", "0"]);
    assert!(text.contains("1 / 0 OVER"), "{text}");
    assert!(text.contains("Sam Okafor"), "{text}");
    d.fails(&["supervision", "load", "--held-days", "-1"], 2);
    d.fails(&["supervision", "queue", "--limit", "0"], 2);

    // Handing over: outside a team only this device can hold a case, and it already does.
    // Unknown workers are refused listing who it could be; nothing changes.
    let before = d.json(&["case", "show", c]);
    assert_eq!(before["held_by"][0]["name"], "Sam Okafor");
    assert_eq!(
        before["case_file"]["oversight"]["handovers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let unknown = d.fails(&["case", "assign", c, "Priya"], 1);
    assert!(
        unknown.contains("no team member is \"Priya\"") && unknown.contains("Sam Okafor"),
        "{unknown}"
    );
    let short_id = d.fails(&["case", "assign", c, "abc"], 1);
    assert!(short_id.contains("at least 6"), "{short_id}");
    for holder in ["me", "sam okafor", "SAM OKAFOR"] {
        let line = d.fails(&["case", "assign", c, holder], 1);
        assert!(line.contains("already assigned"), "{holder}: {line}");
    }
    assert_eq!(d.json(&["case", "show", c]), before);
}

#[test]
fn the_worklist_and_ring_backs() {
    let d = Device::new();
    let case = with_patient(&d);
    let c = &case[..8];

    // Accepted today: the message back to the GP is owed; once recorded as sent, it goes.
    let list = d.json(&["worklist"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    assert!(work_item(&list, "feedback").is_some(), "{list}");
    let text = d.ok(&["worklist"]);
    assert!(text.contains("holdfast feedback write"), "{text}");
    let sent = d.json(&["feedback", "sent", c, "--to", "Dr Patel, Chapel Allerton"]);
    assert_eq!(sent["kind"], "accepted", "{sent}");
    assert_eq!(sent["to"], "Dr Patel, Chapel Allerton");
    let line = d.fails(
        &[
            "feedback",
            "sent",
            c,
            "--to",
            "Dr Patel",
            "--on",
            "2999-01-01",
        ],
        1,
    );
    assert!(line.contains("not ahead of time"), "{line}");

    // Accepted today with no measure: a baseline measure is due, not overdue.
    let list = d.json(&["worklist"]);
    let today = list["on"].as_str().unwrap().to_owned();
    assert_eq!(list["overdue"], 0);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let baseline = work_item(&list, "baseline_measure").expect("baseline due");
    assert_eq!(baseline["case_id"], case.as_str());
    assert_eq!(baseline["patient_name"], "Ada Lovelace");
    assert_eq!(baseline["due"], today.as_str());
    assert_eq!(baseline["overdue"], false);
    let text = d.ok(&["worklist"]);
    assert!(
        text.contains("baseline measure") && text.contains("Ada Lovelace"),
        "{text}"
    );
    assert!(!text.contains("OVERDUE"), "{text}");

    // A call owed since January 2020: overdue, first, with its note.
    let added = d.json(&[
        "ring-back",
        "add",
        c,
        "--due",
        "2020-01-02",
        "--note",
        "missed call about the PIP form",
    ]);
    assert_eq!(added["case_id"], case.as_str());
    assert_eq!(added["due"], "2020-01-02");
    let ring = added["ring_back_id"].as_str().unwrap().to_owned();
    let list = d.json(&["worklist"]);
    assert_eq!(list["overdue"], 1, "{list}");
    assert_eq!(
        list["items"][0]["kind"], "ring_back",
        "oldest first: {list}"
    );
    assert_eq!(list["items"][0]["due"], "2020-01-02");
    assert_eq!(list["items"][0]["overdue"], true);
    assert_eq!(list["items"][0]["ring_back"], ring.as_str());
    assert_eq!(list["items"][0]["note"], "missed call about the PIP form");
    let text = d.ok(&["worklist"]);
    for says in [
        "OVERDUE",
        "ring back",
        "missed call about the PIP form",
        &ring[..8],
        "1 overdue",
    ] {
        assert!(text.contains(says), "missing {says:?} in\n{text}");
    }
    // The day before it fell due, it is not there yet.
    let early = d.json(&["worklist", "--on", "2020-01-01"]);
    assert_eq!(early["on"], "2020-01-01");
    assert!(work_item(&early, "ring_back").is_none(), "{early}");
    let shown = d.ok(&["case", "show", c]);
    assert!(
        shown.contains("Ring-backs (1 to make)") && shown.contains("due 2020-01-02  to make"),
        "{shown}"
    );

    // Bad input: refused, nothing changed.
    let before = d.json(&["case", "show", c]);
    let date = d.fails(
        &["ring-back", "add", c, "--due", "02/01/2020", "--note", "x"],
        2,
    );
    assert!(date.contains("YYYY-MM-DD"), "{date}");
    let blank = d.fails(
        &["ring-back", "add", c, "--due", "2020-01-02", "--note", "  "],
        1,
    );
    assert!(blank.contains("note"), "{blank}");
    let unknown = d.fails(&["ring-back", "done", c, "ffffffff"], 1);
    assert!(unknown.contains("no ring-back"), "{unknown}");
    d.fails(&["worklist", "--on", "tomorrow"], 2);
    d.fails(&["ring-back", "add", c, "--note", "no day"], 2);
    assert_eq!(d.json(&["case", "show", c]), before);

    // Made: gone from the worklist, kept in the case; made twice is refused.
    let done = d.json(&["ring-back", "done", c, &ring[..8]]);
    assert_eq!(done["ring_back_id"], ring.as_str());
    assert!(done["done_at"].is_i64());
    let list = d.json(&["worklist"]);
    assert!(work_item(&list, "ring_back").is_none(), "{list}");
    assert_eq!(list["overdue"], 0);
    let again = d.fails(&["ring-back", "done", c, &ring], 1);
    assert!(again.contains("already recorded as made"), "{again}");
    let shown = d.ok(&["case", "show", c]);
    assert!(
        shown.contains("Ring-backs (0 to make)")
            && shown.contains("missed call about the PIP form"),
        "{shown}"
    );

    // A measure offered clears the baseline.
    d.ok(&[
        "measure",
        "not-completed",
        "ons4",
        c,
        "--reason",
        "declined",
    ]);
    let list = d.json(&["worklist"]);
    assert!(work_item(&list, "baseline_measure").is_none(), "{list}");
    assert!(d.ok(&["worklist"]).contains("Nothing due on"));
}

#[test]
fn the_message_back_to_the_gp_is_text_and_a_bundle_file() {
    let d = Device::new();
    let case = with_patient(&d);
    d.ok(&[
        "session",
        "record",
        &case,
        "--mode",
        "phone",
        "--minutes",
        "20",
        "--note",
        "PRIVATE-NOTE-3391 about her son",
    ]);
    let out = d.path("feedback.json");
    let shown = d.ok(&["feedback", "write", &case, "--out", out.to_str().unwrap()]);
    assert!(shown.contains("Accepted for social prescribing"), "{shown}");
    assert!(shown.contains("feedback.json"), "{shown}");
    assert!(!shown.contains("PRIVATE-NOTE-3391"), "{shown}");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    assert!(!bundle.to_string().contains("PRIVATE-NOTE-3391"));
    if let Ok(dir) = std::env::var("HOLDFAST_FHIR_OUT") {
        std::fs::copy(&out, std::path::Path::new(&dir).join("cli-accepted.json")).unwrap();
    }
    let json = d.json(&["feedback", "write", &case, "--add", "Seen twice so far"]);
    assert_eq!(json["kind"], "accepted");
    assert!(json["text"].as_str().unwrap().contains("Seen twice so far"));
    // Not closed: the closing message is refused, nothing written.
    let line = d.fails(&["feedback", "write", &case, "--at", "closed"], 1);
    assert!(line.contains("not closed"), "{line}");
    // A closure reason goes only with closing; coded, it reaches the message, the words do not.
    let line = d.fails(
        &["status", "set", &case, "holding", "--code", "goals_met"],
        1,
    );
    assert!(line.contains("goes with `closed`"), "{line}");
    d.ok(&[
        "status",
        "set",
        &case,
        "closed",
        "--code",
        "goals_met",
        "--reason",
        "PRIVATE-WORDS-7710",
    ]);
    let closed = d.json(&["feedback", "write", &case]);
    assert_eq!(closed["kind"], "closed");
    let text = closed["text"].as_str().unwrap();
    assert!(text.contains("Reason: goals met."), "{text}");
    assert!(!closed.to_string().contains("PRIVATE-WORDS-7710"));
    assert!(closed["bundle"].to_string().contains("closure-goals-met"));
}

#[test]
fn the_outcomes_report_counts_the_seeded_caseload_as_json_and_csv_and_names_no_one() {
    let d = Device::new();
    d.ok(&["init", "--name", "Sam Okafor"]);
    d.ok(&["seed", "--patients", "60", "--assets", "200"]);
    let period = ["--from", "2025-11-01", "--to", "2026-10-31"];
    let mut args = vec!["report"];
    args.extend_from_slice(&period);
    let report = d.json(&args);
    assert_eq!(report["period"]["from"], "2025-11-01");
    assert_eq!(report["counted_to"], "2026-10-31");
    // Every seeded referral arrived in that year.
    assert_eq!(report["system"]["referrals"], 60);
    let by_source: u64 = report["system"]["by_source"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["value"].as_u64())
        .sum();
    assert!(by_source <= 60);
    assert!(report.to_string().contains("\"<5\""), "{report}");

    args.extend_from_slice(&["--format", "csv"]);
    let csv = d.ok(&args);
    assert!(csv.starts_with("area,measure,breakdown,value\n"), "{csv}");
    assert!(csv.contains("\nsystem,referrals,,60\n"), "{csv}");
    let out = d.path("report.csv");
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    assert!(d.ok(&args).contains("report.csv"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);

    let caseload = d.json(&["caseload"]);
    for row in caseload.as_array().unwrap() {
        let name = row["patient_name"].as_str().unwrap();
        assert!(
            !csv.contains(name) && !report.to_string().contains(name),
            "{name}"
        );
    }

    let backwards = d.fails(&["report", "--from", "2026-10-31", "--to", "2026-10-01"], 1);
    assert!(backwards.contains("before it starts"), "{backwards}");
}
