//! A whole relay on PostgreSQL (`--database postgres://…`): devices push and pull over
//! HTTP, and what they pushed is in the database, and still there after a restart.

mod common;

use common::Relay;
use holdfast_protocol::Role;
use holdfast_relay::testing::TestRelay;
use holdfast_relay::testing::postgres::TestSchema;

#[tokio::test]
async fn a_relay_on_postgres_stores_pushes_and_serves_them_after_a_restart() {
    let schema = TestSchema::new();
    let mut relay = Relay::serving(TestRelay::builder().database(&schema.url()).start().await);
    let alice = relay.device();
    let bob = relay.device();
    let team = relay.create_team(&alice).await;
    let alice_token = relay.login(&alice).await;
    relay
        .enrol(&alice_token, team, &alice, &bob, Role::LinkWorker, None)
        .await;
    let bob_token = relay.login(&bob).await;

    let first = alice.changes(team, 0, 3, 1024);
    let pushed = relay
        .push_ok(&alice_token, team, alice.batch(team, &first))
        .await;
    assert_eq!(pushed, [(1, false), (2, false), (3, false)]);
    let again = relay
        .push_ok(&alice_token, team, alice.batch(team, &first[1..]))
        .await;
    assert_eq!(again, [(2, true), (3, true)]);
    let items = relay.pull_all(&bob_token, team, "&limit=2").await;
    let pulled: Vec<(u64, &Vec<u8>)> = items.iter().map(|(seq, bytes)| (*seq, bytes)).collect();
    assert_eq!(pulled, [(1, &first[0]), (2, &first[1]), (3, &first[2])]);

    // The envelopes are rows of the test's schema, not a file in the data folder.
    let (client, connection) = schema
        .config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let stored: i64 = client
        .query_one("SELECT count(*) FROM envelopes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 3);
    let server = relay.server.as_mut().unwrap();
    assert!(!server.data_dir().join("relay.db").exists());

    // Restarted (same database, same token key): the team and its envelopes are there.
    server.stop().await;
    server.restart().await;
    let bob_token = relay.login(&bob).await;
    let items = relay.pull_all(&bob_token, team, "").await;
    assert_eq!(items.len(), 3);
    let more = bob.changes(team, 100, 1, 200);
    let pushed = relay
        .push_ok(&bob_token, team, bob.batch(team, &more))
        .await;
    assert_eq!(pushed, [(4, false)]);
    relay.shutdown().await;
}
