//! Cross-crate end-to-end tests live in `tests/` and the sync benches in `benches/`; this
//! library holds the device-side fixtures they share:
//!
//! - [`Device`]: an encrypted store in a temporary folder, an in-memory key store and a
//!   sync client, optionally on a test's clock; [`Device::enrol`], [`team_of`],
//!   [`quick_retries`], and [`Device::wait_until`] to wait on the store's events instead
//!   of polling;
//! - [`Proxy`]: a loopback proxy in front of the relay that counts what passes and can
//!   drop the relay's answers;
//! - [`Liar`]: an HTTP proxy in front of the relay whose answers a test rewrites: a relay
//!   that lies, or someone between a phone and its relay.
//!
//! The relay side is `holdfast_relay::testing` (the relay's `testing` feature):
//! `TestRelay` and `login`.
//!
//! ```no_run
//! # async fn run() {
//! use holdfast_core::sync::Role;
//! use holdfast_relay::testing::TestRelay;
//! use holdfast_tests::{Device, team_of};
//!
//! let relay = TestRelay::start().await;
//! let (admin, worker) = (Device::new("Sam Okafor"), Device::new("Priya Natarajan"));
//! let team = team_of(&relay.url(), &admin, &[&worker]).await;
//! let supervisor = Device::new("Jo Whitfield");
//! admin.enrol(team, &supervisor, Role::Supervisor).await;
//! # }
//! ```

mod balancer;
mod device;
mod liar;
mod proxy;

pub use balancer::Balancer;
pub use device::{Device, quick_retries, team_of};
pub use liar::{Answer, Asked, Liar, Lie};
pub use proxy::{Counted, Counters, Proxy};
