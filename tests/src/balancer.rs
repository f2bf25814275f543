//! A TCP load balancer on loopback in front of several relays, as an operator runs one in
//! front of the relays of one PostgreSQL database: each new connection goes to the next
//! relay in turn, or to the one a test pins; a relay that refuses the connection (it is
//! down) is skipped for the next. Bytes pass unchanged, so a connection (and a live socket
//! on it) stays on the relay it reached until either end closes it.
//!
//! Give every relay the balancer's URL as its public URL (devices sign it into their
//! logins): bind the balancer first, start the relays, then forward to them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

/// How long the balancer waits for a relay to accept before trying the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// "No pin": new connections go round.
const ROUND: usize = usize::MAX;

/// The running balancer; stops when dropped.
#[derive(Debug)]
pub struct Balancer {
    addr: SocketAddr,
    pinned: Arc<AtomicUsize>,
    /// Connections each relay accepted from the balancer, by its index.
    served: Arc<Vec<AtomicU64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// A listener for the balancer on loopback: its address is the relays' public origin.
    pub async fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the balancer")
    }

    /// Forwards connections from `listener` to `relays`, on `rt`.
    pub fn start_on(rt: &Handle, listener: TcpListener, relays: Vec<SocketAddr>) -> Balancer {
        assert!(!relays.is_empty(), "a balancer needs a relay");
        let addr = listener.local_addr().expect("the balancer's address");
        let pinned = Arc::new(AtomicUsize::new(ROUND));
        let served: Arc<Vec<AtomicU64>> =
            Arc::new(relays.iter().map(|_| AtomicU64::new(0)).collect());
        let (pin, counts) = (Arc::clone(&pinned), Arc::clone(&served));
        let task = rt.spawn(async move {
            let relays = Arc::new(relays);
            let next = AtomicUsize::new(0);
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                let first = match pin.load(Ordering::SeqCst) {
                    ROUND => next.fetch_add(1, Ordering::SeqCst),
                    relay => relay,
                };
                tokio::spawn(forward(
                    client,
                    Arc::clone(&relays),
                    first,
                    Arc::clone(&counts),
                ));
            }
        });
        Balancer {
            addr,
            pinned,
            served,
            task,
        }
    }

    /// Forwards connections from `listener` to `relays`, on the current runtime.
    pub fn start(listener: TcpListener, relays: Vec<SocketAddr>) -> Balancer {
        Self::start_on(&Handle::current(), listener, relays)
    }

    /// The balancer's URL: what devices are given as the relay's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends new connections to relay `relay` first (the next ones if it is down); `None`:
    /// round the relays again.
    pub fn pin(&self, relay: Option<usize>) {
        self.pinned.store(relay.unwrap_or(ROUND), Ordering::SeqCst);
    }

    /// Connections relay `relay` accepted from the balancer so far.
    pub fn served(&self, relay: usize) -> u64 {
        self.served[relay].load(Ordering::SeqCst)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: to relay `first`, or the next that accepts; then bytes both ways.
async fn forward(
    mut client: TcpStream,
    relays: Arc<Vec<SocketAddr>>,
    first: usize,
    served: Arc<Vec<AtomicU64>>,
) {
    for k in 0..relays.len() {
        let i = (first + k) % relays.len();
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(relays[i])).await;
        if let Ok(Ok(mut relay)) = connected {
            let _ = relay.set_nodelay(true);
            served[i].fetch_add(1, Ordering::SeqCst);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut relay).await;
            return;
        }
    }
    // No relay is up: the device sees its connection closed, as behind a real balancer.
}
