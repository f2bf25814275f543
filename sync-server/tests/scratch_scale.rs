mod common;
use common::*;
use holdfast_protocol::Role;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale() {
    let relay = Relay::start_with(holdfast_relay::Limits {
        rate_limit_per_second: 0.0,
        ..holdfast_relay::Limits::default()
    })
    .await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let start = Instant::now();
    let mut last = Instant::now();
    for i in 1..=2000 {
        let d = Device::new();
        relay
            .enrol(&token, team, &admin, &d, Role::LinkWorker, None)
            .await;
        if i % 250 == 0 {
            eprintln!(
                "{i} devices: {:.1} s total, last 250 in {:.2} s",
                start.elapsed().as_secs_f64(),
                last.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    }
}
