//! The patient's plan stands on its own, from the command line: `plan render` (large
//! print and plain text, no ids), `plan refresh` after the directory changes, `plan
//! about-me`, `supervision plan-wording`, and the plan ending when the case is closed.

mod common;

use common::Device;
use holdfast_relay::testing::TestRelay;
use serde_json::Value;

/// An accepted patient; returns (case id, plan id).
fn patient(d: &Device, name: &str) -> (String, String) {
    let case = d.json(&["patient", "add", "--name", name]);
    let case_id = case["case_id"].as_str().unwrap().to_owned();
    let plan_id = case["plan_id"].as_str().unwrap().to_owned();
    let r = d.json(&[
        "referral", "add", &case_id, "--source", "gp", "--reason", "lonely",
    ]);
    let referral = r["referral_id"].as_str().unwrap();
    d.ok(&["referral", "accept", &case_id, referral]);
    (case_id, plan_id)
}

fn services(phone: &str) -> String {
    format!(
        r#"[{{"id": "svc-1", "name": "Tuesday Walking Group",
   "description": "A gentle walk round Woodhouse Moor, then tea.",
   "phones": [{{"number": "{phone}"}}],
   "fees": "Free",
   "assured_date": "2026-11-02",
   "service_at_locations": [{{"location": {{"physical_addresses": [
      {{"address_1": "Woodhouse Moor", "city": "Leeds", "postal_code": "LS6 2AB"}}]}}}}]}}]"#
    )
}

#[test]
fn render_refresh_about_me_and_the_end_of_the_plan() {
    let d = Device::init("Sam Okafor");
    let (case, plan) = patient(&d, "Ada Lovelace");
    let about = "I'm Sam Okafor, your link worker at Hyde Park Surgery. Call 0113 496 0999.";

    // About me: none yet; a typo'd plan changes nothing; then set and copied into the plan.
    assert!(
        d.ok(&["plan", "about-me"])
            .contains("No \"about your link worker\"")
    );
    d.fails(&["plan", "about-me", about, "--plan", "zzzzzzzz"], 1);
    assert_eq!(
        d.json(&["plan", "about-me"])["about_link_worker"],
        Value::Null
    );
    let set = d.json(&["plan", "about-me", about, "--plan", &case]);
    assert_eq!(set["about_link_worker"], about);
    assert_eq!(set["copied_to"], plan.as_str());
    let shown = d.json(&["plan", "show", &case]);
    assert_eq!(shown["plan"]["about_link_worker"], about);
    // Outside a team the default wording was copied in with the plan.
    assert!(
        shown["plan"]["out_of_hours"]
            .as_str()
            .unwrap()
            .contains("116 123")
    );

    let file = d.file("leeds.json", &services("0113 496 0000"));
    d.ok(&["directory", "import", file.to_str().unwrap()]);
    let hits = d.json(&["directory", "search", "walk"]);
    let dir = hits[0]["directory_id"].as_str().unwrap().to_owned();
    let asset = hits[0]["asset_id"].as_str().unwrap().to_owned();
    d.ok(&[
        "step",
        "add",
        &case,
        "Try the walking group",
        "--owner",
        "patient",
        "--asset",
        &format!("{}:{asset}", &dir[..8]),
    ]);
    let shown = d.ok(&["plan", "show", &case]);
    assert!(shown.contains("at Tuesday Walking Group"), "{shown}");

    // Large print: short lines, capitals, the listing, no ids.
    let large = d.ok(&["plan", "render", &case]);
    assert!(large.starts_with("MY ACTION PLAN\n"), "{large}");
    for want in [
        "MY STEPS\n- Try the walking group\n  Who: you\n",
        "  Where to go: Tuesday Walking Group\n",
        "  Phone: 0113 496 0000\n",
        "  Cost: Free\n",
        "  Listing checked on Monday 2 November\n  2026\n",
        "ABOUT YOUR LINK WORKER\nI'm Sam Okafor, your link worker at Hyde\n",
        "WHEN YOUR LINK WORKER WORKS\nMonday to Friday, 9am to 5pm.\n",
        "IF YOU NEED HELP NOW\n",
    ] {
        assert!(large.contains(want), "{want:?} not in\n{large}");
    }
    assert!(large.lines().all(|l| l.chars().count() <= 40), "{large}");
    for id in [&case, &plan, &dir, &asset] {
        assert!(!large.contains(id.as_str()), "{id} in {large}");
        assert!(!large.contains(&id[..8]), "{id} in {large}");
    }

    // Plain text to a file, for an SMS.
    let out = d.path("ada.txt");
    let saved = d.json(&[
        "plan",
        "render",
        &case,
        "--style",
        "plain-text",
        "--out",
        out.to_str().unwrap(),
    ]);
    let sms = std::fs::read_to_string(&out).unwrap();
    assert_eq!(saved["text"], sms.as_str());
    assert_eq!(saved["style"], "plain_text");
    assert!(sms.starts_with("My action plan:\n"), "{sms}");
    assert!(
        sms.contains(
            "- Try the walking group. Who: you. Done: not yet. Where to go: Tuesday Walking \
             Group. Where: Woodhouse Moor, Leeds, LS6 2AB. Phone: 0113 496 0000. Cost: Free. \
             Listing checked on 2 Nov 2026.\n"
        ),
        "{sms}"
    );
    assert!(sms.is_ascii(), "{sms}");
    let line = d.fails(&["plan", "render", &case, "--style", "fancy"], 2);
    assert!(line.contains("large-print"), "{line}");

    // The listing changes; a refresh copies it into the plan.
    let file = d.file("leeds.json", &services("0113 496 0123"));
    d.ok(&["directory", "import", file.to_str().unwrap()]);
    assert!(d.ok(&["plan", "render", &case]).contains("0113 496 0000"));
    let refreshed = d.json(&["plan", "refresh-assets", &case]);
    assert_eq!(refreshed["assets"]["updated"], 1, "{refreshed}");
    assert!(
        d.ok(&["plan", "render", &case])
            .contains("Phone: 0113 496 0123")
    );
    let again = d.ok(&["plan", "refresh", &case]);
    assert!(
        again.contains("0 linked steps updated, 1 already up to date"),
        "{again}"
    );

    // Closing the case ends the plan; the render says how to come back.
    d.ok(&[
        "plan",
        "get-back-in-touch",
        &case,
        "Ask the surgery for Sam.",
    ]);
    d.ok(&["status", "set", &case, "closed", "--code", "goals_met"]);
    let ended = d.ok(&["plan", "render", &case]);
    assert!(
        ended.contains("THIS PLAN HAS ENDED — HOW TO COME BACK\nThis plan ended on"),
        "{ended}"
    );
    assert!(ended.contains("Ask the surgery for Sam.\n"), "{ended}");
    let shown = d.json(&["plan", "show", &case]);
    assert_eq!(
        shown["plan"]["ended"]["how_to_come_back"],
        "Ask the surgery for Sam."
    );
    assert!(
        d.ok(&["plan", "show", &case])
            .contains("This plan has ended")
    );
    // A re-referral reopens it.
    d.ok(&[
        "referral",
        "add",
        &case,
        "--source",
        "gp",
        "--reason",
        "back again",
    ]);
    assert_eq!(
        d.json(&["plan", "show", &case])["plan"]["ended"],
        Value::Null
    );

    // Plan wording is the team's: outside a team it cannot be set.
    let line = d.fails(
        &["supervision", "plan-wording", "--out-of-hours", "Call 111."],
        1,
    );
    assert!(line.contains("create or join"), "{line}");
}

#[test]
fn plan_wording_set_by_the_admin_reaches_new_plans() {
    let relay = TestRelay::blocking_start();
    let d = Device::init("Sam Okafor");
    d.ok(&["team", "create", "--relay", &relay.url()]);
    let shown = d.ok(&["supervision", "plan-wording"]);
    assert!(shown.contains("these are the defaults"), "{shown}");

    // Bad hours are refused, and nothing changes.
    for bad in ["Mon-Fri", "Fri-Mon 09:00-17:00", "Mon-Fri 17:00-09:00"] {
        let line = d.fails(&["supervision", "plan-wording", "--working-hours", bad], 1);
        assert!(line.contains("working"), "{line}");
    }
    assert!(d.json(&["supervision", "plan-wording"])["set"].is_null());

    let set = d.json(&[
        "supervision",
        "plan-wording",
        "--working-hours",
        "Mon-Thu 08:30-16:30",
        "--out-of-hours",
        "In a crisis call NHS 111, option 2.",
    ]);
    assert_eq!(
        set["wording"]["out_of_hours"],
        "In a crisis call NHS 111, option 2."
    );
    assert_eq!(set["set"]["by"], "Sam Okafor");
    let shown = d.ok(&["supervision", "plan-wording"]);
    assert!(
        shown.contains("Monday to Thursday, 8:30am to 4:30pm"),
        "{shown}"
    );

    let (case, _) = patient(&d, "Ada Lovelace");
    let sms = d.ok(&["plan", "render", &case, "--style", "plain-text"]);
    assert!(
        sms.contains("When your link worker works:\nMonday to Thursday, 8:30am to 4:30pm.\n"),
        "{sms}"
    );
    assert!(
        sms.contains("If you need help now:\nIn a crisis call NHS 111, option 2.\n"),
        "{sms}"
    );
}
