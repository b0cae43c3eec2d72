//! A TCP proxy between test clients and the server that can go offline, cut every open
//! connection, truncate responses after a number of bytes, and cut connections at random
//! (seeded) in either direction, mid-request or mid-response.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Random faults: each new connection is cut with `probability`, after a random number of
/// bytes (below `max_bytes`) in a random direction.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    pub probability: f64,
    pub max_bytes: usize,
}

struct State {
    upstream: SocketAddr,
    online: bool,
    /// Cut server → client traffic after this many bytes on every connection.
    truncate_responses: Option<usize>,
    chaos: Option<Chaos>,
    rng: StdRng,
    connections: u64,
    cuts: u64,
}

/// The proxy; stops accepting when dropped (open connections are cut).
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    generation: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

/// Limits of one connection: bytes allowed client → server and server → client.
#[derive(Debug, Clone, Copy)]
struct Limits {
    up: Option<usize>,
    down: Option<usize>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, seed: u64) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            upstream,
            online: true,
            truncate_responses: None,
            chaos: None,
            rng: StdRng::seed_from_u64(seed),
            connections: 0,
            cuts: 0,
        }));
        let (generation, _) = watch::channel(0u64);
        let accept = {
            let state = state.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (upstream, limits) = {
                        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                        s.connections += 1;
                        if !s.online {
                            drop(client);
                            continue;
                        }
                        let mut limits = Limits {
                            up: None,
                            down: s.truncate_responses,
                        };
                        if let Some(chaos) = s.chaos {
                            if s.rng.gen_bool(chaos.probability) {
                                s.cuts += 1;
                                let at = s.rng.gen_range(0..chaos.max_bytes.max(1));
                                if s.rng.gen_bool(0.5) {
                                    limits.up = Some(at);
                                } else {
                                    limits.down = Some(at);
                                }
                            }
                        }
                        (s.upstream, limits)
                    };
                    let cut = generation.subscribe();
                    tokio::spawn(serve(client, upstream, limits, cut));
                }
            })
        };
        Ok(Proxy {
            addr,
            state,
            generation,
            accept,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Points new connections at another server address (after a server restart).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.state().upstream = upstream;
        self.cut_all();
    }

    /// Offline: every open connection is cut and new ones are closed at once.
    pub fn set_online(&self, online: bool) {
        self.state().online = online;
        if !online {
            self.cut_all();
        }
    }

    pub fn is_online(&self) -> bool {
        self.state().online
    }

    pub fn set_truncate_responses(&self, bytes: Option<usize>) {
        self.state().truncate_responses = bytes;
        self.cut_all();
    }

    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.state().chaos = chaos;
    }

    /// Cuts every open connection (a network blip); new connections work as configured.
    pub fn cut_all(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Connections accepted and connections cut by chaos so far.
    pub fn stats(&self) -> (u64, u64) {
        let s = self.state();
        (s.connections, s.cuts)
    }
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    limits: Limits,
    mut cut: watch::Receiver<u64>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::select! {
        _ = pipe(cr, sw, limits.up) => {}
        _ = pipe(sr, cw, limits.down) => {}
        _ = cut.changed() => {}
    }
    // Dropping both halves of both sockets closes the connection in both directions.
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<usize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = limit.unwrap_or(usize::MAX);
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let take = n.min(left);
        if to.write_all(&buf[..take]).await.is_err() {
            return;
        }
        left -= take;
        if left == 0 {
            let _ = to.flush().await;
            return;
        }
    }
}
