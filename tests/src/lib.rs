//! Cross-crate end-to-end tests live in `tests/`; this library holds what several of them
//! share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP proxy that can swallow the relay's answers (requests still arrive).
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    /// While set, the relay's answers are dropped and the device hung up on.
    pub swallow: Arc<AtomicBool>,
    /// Answers to requests whose bytes contain this (say `POST /v1/…/redeem`) are dropped
    /// and the device hung up on; other answers pass.
    pub swallow_for: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A listener for the proxy on loopback, and its address (the relay's public origin).
    pub async fn bind() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    /// Forwards connections from `listener` to `upstream`.
    pub fn start(listener: TcpListener, upstream: SocketAddr) -> Proxy {
        let swallow = Arc::new(AtomicBool::new(false));
        let swallow_for = Arc::new(Mutex::new(None::<String>));
        let addr = listener.local_addr().unwrap();
        let flag = swallow.clone();
        let pattern = swallow_for.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let swallow = flag.clone();
                let pattern = pattern.clone();
                tokio::spawn(async move {
                    let hit = AtomicBool::new(false);
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Requests always go through. An answer is passed on unless the flag
                    // is set when it arrives: then the device is hung up on instead (also
                    // on a kept-alive connection opened before the flag was set).
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    let forward = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    let wanted = pattern.lock().unwrap().clone();
                                    if let Some(p) = wanted
                                        && buf[..n].windows(p.len()).any(|w| w == p.as_bytes())
                                    {
                                        hit.store(true, Ordering::SeqCst);
                                    }
                                    if sw.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    let answer = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(_)
                                    if swallow.load(Ordering::SeqCst)
                                        || hit.load(Ordering::SeqCst) =>
                                {
                                    break;
                                }
                                Ok(n) => {
                                    if cw.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    tokio::select! {
                        () = forward => {}
                        () = answer => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            swallow,
            swallow_for,
            task,
        }
    }

    /// The proxy's URL: what devices are given as the relay's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
