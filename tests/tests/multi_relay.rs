//! Devices behind a load balancer in front of two relays on one PostgreSQL database
//! (issue 11): they sync through whichever relay the balancer gives each connection, one
//! relay is killed while they work, and they carry on through the other with nothing lost.
//!
//! Why a load balancer and not a list of relay URLs in the team: devices sign the relay's
//! origin into their logins and pin its certificate, invite codes carry one URL, and an
//! operator already runs a balancer (health checks, TLS, draining) in front of anything
//! that has more than one process. All a device needs is what it already does: retry a
//! request that failed on a new connection, which the balancer sends to a relay that is up.

use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::ids::DocumentId;
use holdfast_relay::testing::TestRelay;
use holdfast_relay::testing::postgres::TestSchema;
use holdfast_tests::{Balancer, Device, team_of};

/// One edit: a case file created by a device, named for who made it and when.
struct Edit {
    case: DocumentId,
    name: String,
}

fn edit(d: &Device, name: String) -> Edit {
    let case = d
        .s()
        .create_case_file(NewPatient::named(&name))
        .expect("a case");
    Edit {
        case: case.case_id,
        name,
    }
}

fn holds(d: &Device, e: &Edit) -> bool {
    let name = d.s().case_file(e.case).map(|c| c.patient.name);
    matches!(name, Ok(n) if n == e.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_carry_on_through_another_relay_when_theirs_is_killed() {
    const ROUNDS: usize = 12;
    const KILL_AT: usize = 4;
    let schema = TestSchema::new();
    let listener = Balancer::bind().await;
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut relays = Vec::new();
    for _ in 0..2 {
        relays.push(
            TestRelay::builder()
                .database(&schema.url())
                .public_url(origin.clone())
                .start()
                .await,
        );
    }
    let balancer = Balancer::start(listener, relays.iter().map(TestRelay::addr).collect());
    let url = balancer.url();
    let devices = [
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Sam Linkworker"),
    ];
    let [ada, lee, sam] = &devices;
    let team = team_of(&url, ada, &[lee, sam]).await;

    let mut edits = Vec::new();
    let mut failed_syncs = 0;
    for round in 0..ROUNDS {
        for (who, d) in [("Ada", ada), ("Lee", lee), ("Sam", sam)] {
            edits.push(edit(d, format!("{who} Round {round}")));
        }
        // All three at once: pushes and pulls through both relays (one after the kill).
        let synced = if round == KILL_AT {
            // Killed while the three sync, not stopped: connections cut mid-request,
            // nothing drained.
            let doomed = &mut relays[0];
            let kill = async move {
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                tokio::task::block_in_place(|| doomed.kill());
            };
            tokio::join!(sync_all(ada, lee, sam, team), kill).0
        } else {
            sync_all(ada, lee, sam, team).await
        };
        failed_syncs += synced.iter().filter(|ok| !**ok).count();
    }
    // Whatever a sync cut by the kill left undone, the next one did.
    for _ in 0..2 {
        for d in &devices {
            d.sync(team).await;
        }
    }
    for (who, d) in [("Ada", ada), ("Lee", lee), ("Sam", sam)] {
        for e in &edits {
            assert!(holds(d, e), "{who} lacks {}", e.name);
        }
    }
    assert!(balancer.served(0) > 0 && balancer.served(1) > 0);
    // A sync retries on a new connection, which the balancer sends to the live relay: at
    // most the syncs in flight when the relay died fail.
    assert!(failed_syncs <= 3, "{failed_syncs} syncs failed");

    // The surviving relay holds everything: a new phone gets every edit from it alone.
    let nia = Device::new("Nia New");
    ada.enrol(team, &nia, holdfast_core::sync::Role::LinkWorker)
        .await;
    nia.sync(team).await;
    for e in &edits {
        assert!(holds(&nia, e), "the relays lost {}", e.name);
    }
}

/// One sync of `team` on each device at once; whether each succeeded.
async fn sync_all(a: &Device, b: &Device, c: &Device, team: holdfast_core::TeamId) -> [bool; 3] {
    let (x, y, z) = tokio::join!(
        a.client.sync(team),
        b.client.sync(team),
        c.client.sync(team)
    );
    [x.is_ok(), y.is_ok(), z.is_ok()]
}
