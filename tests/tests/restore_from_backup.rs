//! A relay's database restored from a backup (issue 11): envelopes devices were told are
//! stored are gone, and the relay gives their sequence numbers to whatever is pushed next.
//! Devices notice (the id at their latest checkpoint is not theirs any more), find where the
//! relay's history and theirs agree, pull again from there keeping everything they hold,
//! and upload again what the relay lost; devices that are ahead restore it for everyone.
//!
//! On both backends: on SQLite the backup is `VACUUM INTO` while the relay runs, the
//! restore a copy over its file while it is stopped; on PostgreSQL the backup is `pg_dump`
//! while the relay runs, the restore `pg_restore` into a dropped schema.

use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::ids::DocumentId;
use holdfast_core::sync::Role;
use holdfast_relay::testing::{Backing, TestRelay};
use holdfast_tests::{Device, team_of};

/// One edit a device made: the case it created and what it set as mattering.
struct Edit {
    case: DocumentId,
    plan: DocumentId,
    name: String,
    matters: String,
}

fn edit(d: &Device, name: &str) -> Edit {
    let case = d
        .s()
        .create_case_file(NewPatient::named(name))
        .expect("a case");
    let matters = format!("what matters to {name}");
    d.s().set_what_matters(case.plan_id, &matters).expect("set");
    Edit {
        case: case.case_id,
        plan: case.plan_id,
        name: name.to_owned(),
        matters,
    }
}

fn holds(d: &Device, e: &Edit) -> bool {
    let name = d.s().case_file(e.case).map(|c| c.patient.name);
    let matters = d.s().action_plan(e.plan).map(|p| p.what_matters);
    matches!((name, matters), (Ok(n), Ok(m)) if n == e.name && m == e.matters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_ends_with_every_edit_after_the_relay_is_restored_from_a_backup() {
    restored_from_a_backup(Backing::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_ends_with_every_edit_after_a_postgres_relay_is_restored_from_a_backup() {
    restored_from_a_backup(Backing::postgres()).await;
}

async fn restored_from_a_backup(backend: Backing) {
    let mut relay = backend.start(TestRelay::builder()).await;
    let url = relay.url();
    let (ada, lee, sam) = (
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Sam Linkworker"),
    );
    let team = team_of(&url, &ada, &[&lee, &sam]).await;
    let mut edits = Vec::new();
    for (i, d) in [&ada, &lee, &sam].into_iter().enumerate() {
        edits.push(edit(d, &format!("Before Backup {i}")));
        d.sync(team).await;
    }
    for d in [&ada, &lee, &sam] {
        d.sync(team).await;
    }

    // The backup, taken while the relay runs.
    backend.back_up(&relay);

    // Work goes on: every device pushes, two of them pull it all, Sam pulls nothing.
    for (i, d) in [&ada, &lee, &sam].into_iter().enumerate() {
        edits.push(edit(d, &format!("After Backup {i}")));
        d.sync(team).await;
    }
    // Ada also edits a plan every device held before the backup: Sam will hold that plan,
    // without this change, when the relay has lost it.
    let known = &mut edits[1];
    known.matters = "what matters now, after the backup".to_owned();
    ada.s()
        .set_what_matters(known.plan, &known.matters)
        .expect("set");
    ada.sync(team).await;
    for d in [&ada, &lee] {
        d.sync(team).await;
    }
    let head_before = relay_head(&ada, team).await;

    // The relay's database is restored: everything since the backup is gone.
    relay.stop().await;
    backend.restore(&relay);
    relay.restart().await;
    assert!(relay_head(&ada, team).await < head_before);

    // Lee edits first after the restore: its envelopes take the numbers the lost ones had.
    edits.push(edit(&lee, "After Restore 1"));
    let first = lee.sync(team).await;
    assert!(first.push.restarted.or(first.pull.restarted).is_some());
    edits.push(edit(&sam, "After Restore 2"));
    let mut restarted = Vec::new();
    for _ in 0..2 {
        for (who, d) in [("Ada", &ada), ("Lee", &lee), ("Sam", &sam)] {
            let report = d.sync(team).await;
            if let Some(restart) = report.push.restarted.or(report.pull.restarted) {
                restarted.push(who);
                // What Lee uploaded again already holds all Sam has of the documents Sam
                // marked (Lee had pulled Sam's edits): Sam uploads none of them again.
                if who == "Sam" {
                    assert!(restart.documents > 0);
                    assert_eq!(
                        report.snapshots, 0,
                        "Sam uploaded again what the relay holds"
                    );
                }
            }
        }
    }
    // Ada and Sam had been told of envelopes the relay lost (Lee found out on its first
    // sync after the restore), and each noticed once.
    restarted.sort_unstable();
    assert_eq!(restarted, ["Ada", "Sam"]);
    for (who, d) in [("Ada", &ada), ("Lee", &lee), ("Sam", &sam)] {
        for e in &edits {
            assert!(holds(d, e), "{who} lacks {}", e.name);
        }
    }

    // The relay holds everything again: a new phone gets every edit from it alone.
    let nia = Device::new("Nia New");
    ada.enrol(team, &nia, Role::LinkWorker).await;
    nia.sync(team).await;
    for e in &edits {
        assert!(holds(&nia, e), "the relay lost {}", e.name);
    }
}

async fn relay_head(d: &Device, team: holdfast_core::TeamId) -> u64 {
    d.client.head(team).await.expect("the head")
}
