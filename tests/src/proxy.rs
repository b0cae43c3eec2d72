//! A TCP proxy between test clients and the server that can go offline, cut every open
//! connection, truncate responses after a number of bytes, cut connections at random
//! (seeded) in either direction, mid-request or mid-response, and shape the link like a
//! clinic's line: a bandwidth cap shared by every connection, added latency and jitter.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Random faults: each new connection is cut with `probability`, after a random number of
/// bytes (below `max_bytes`) in a random direction.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    pub probability: f64,
    pub max_bytes: usize,
}

/// A link's shape, the same both ways (a clinic's broadband or mobile line).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Bits per second each way, shared by every connection (one line); `None`: unlimited.
    pub bits_per_second: Option<u64>,
    /// Added one-way delay: half the added round trip.
    pub delay: Duration,
    /// Up to this much more delay per chunk, at random (bytes stay in order, as on TCP).
    pub jitter: Duration,
}

impl Shape {
    /// `mbit` Mbit/s with `rtt` round trip and `jitter`.
    pub fn line(mbit: f64, rtt: Duration, jitter: Duration) -> Shape {
        Shape {
            bits_per_second: Some((mbit * 1e6) as u64),
            delay: rtt / 2,
            jitter,
        }
    }
}

/// One direction of the shaped line: when it is next free to send.
type Line = Arc<tokio::sync::Mutex<Instant>>;

struct State {
    upstream: SocketAddr,
    shape: Shape,
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
    /// Bytes delivered server → client, over every connection.
    bytes_down: Arc<AtomicU64>,
    /// Bytes delivered client → server, over every connection.
    bytes_up: Arc<AtomicU64>,
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
            shape: Shape::default(),
            online: true,
            truncate_responses: None,
            chaos: None,
            rng: StdRng::seed_from_u64(seed),
            connections: 0,
            cuts: 0,
        }));
        let (generation, _) = watch::channel(0u64);
        let bytes_down = Arc::new(AtomicU64::new(0));
        let bytes_up = Arc::new(AtomicU64::new(0));
        let lines: [Line; 2] = [
            Arc::new(tokio::sync::Mutex::new(Instant::now())),
            Arc::new(tokio::sync::Mutex::new(Instant::now())),
        ];
        let accept = {
            let state = state.clone();
            let generation = generation.clone();
            let bytes_down = bytes_down.clone();
            let bytes_up = bytes_up.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (upstream, limits, shape, seed) = {
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
                        let seed = s.rng.gen();
                        (s.upstream, limits, s.shape, seed)
                    };
                    let link = Link {
                        shape,
                        up: lines[0].clone(),
                        down: lines[1].clone(),
                        bytes_down: bytes_down.clone(),
                        bytes_up: bytes_up.clone(),
                        seed,
                    };
                    let cut = generation.subscribe();
                    tokio::spawn(serve(client, upstream, limits, link, cut));
                }
            })
        };
        Ok(Proxy {
            addr,
            state,
            bytes_down,
            bytes_up,
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

    /// Shapes new connections (open ones keep the shape they started with).
    pub fn set_shape(&self, shape: Shape) {
        self.state().shape = shape;
    }

    /// Bytes delivered server → client so far, over every connection.
    pub fn bytes_down(&self) -> u64 {
        self.bytes_down.load(Ordering::Relaxed)
    }

    /// Bytes delivered client → server so far, over every connection.
    pub fn bytes_up(&self) -> u64 {
        self.bytes_up.load(Ordering::Relaxed)
    }

    /// Cuts every open connection (a network blip); new connections work as configured.
    pub fn cut_all(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// [`Proxy::cut_all`] as a handle that can be called from anywhere (a progress callback
    /// cuts at an exact point of a transfer, with no polling to race it).
    pub fn cutter(&self) -> impl Fn() + Send + Sync + 'static {
        let generation = self.generation.clone();
        move || generation.send_modify(|g| *g += 1)
    }

    /// Connections accepted and connections cut by chaos so far.
    pub fn stats(&self) -> (u64, u64) {
        let s = self.state();
        (s.connections, s.cuts)
    }
}

/// What one connection shares with the others: the shape, the line's two directions, the
/// byte count.
struct Link {
    shape: Shape,
    up: Line,
    down: Line,
    bytes_down: Arc<AtomicU64>,
    bytes_up: Arc<AtomicU64>,
    seed: u64,
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    limits: Limits,
    link: Link,
    mut cut: watch::Receiver<u64>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = Direction {
        shape: link.shape,
        line: link.up,
        counter: Some(link.bytes_up),
        seed: link.seed,
    };
    let down = Direction {
        shape: link.shape,
        line: link.down,
        counter: Some(link.bytes_down),
        seed: link.seed ^ 0x5eed,
    };
    tokio::select! {
        _ = pipe(cr, sw, limits.up, up) => {}
        _ = pipe(sr, cw, limits.down, down) => {}
        _ = cut.changed() => {}
    }
    // Dropping both halves of both sockets closes the connection in both directions.
}

/// One direction of one connection.
struct Direction {
    shape: Shape,
    line: Line,
    counter: Option<Arc<AtomicU64>>,
    seed: u64,
}

/// Bytes taken from the socket at a time on a shaped line: about three TCP segments, so
/// that pacing is smooth at a few Mbit/s.
const SHAPED_CHUNK: usize = 4 * 1024;

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<usize>,
    direction: Direction,
) {
    let shaped = direction.shape.bits_per_second.is_some()
        || !direction.shape.delay.is_zero()
        || !direction.shape.jitter.is_zero();
    let mut buf = vec![0u8; if shaped { SHAPED_CHUNK } else { 16 * 1024 }];
    let mut left = limit.unwrap_or(usize::MAX);
    // On a shaped line a writer delivers each chunk at its time, in order, while the reader
    // goes on taking chunks as the line frees up (a full queue holds the reader back, and
    // with it the sender's TCP window).
    let (queue, mut delivery) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let counter = direction.counter.clone();
    let writer = async move {
        while let Some((at, chunk)) = delivery.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            if let Some(c) = &counter {
                c.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }
        let _ = to.flush().await;
    };
    let mut rng = StdRng::seed_from_u64(direction.seed);
    let mut last_delivery = Instant::now();
    let reader = async move {
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let take = n.min(left);
            let mut at = Instant::now();
            if let Some(bps) = direction.shape.bits_per_second {
                // The chunk occupies the shared line for its length at the line's rate.
                let busy = Duration::from_secs_f64(take as f64 * 8.0 / bps as f64);
                let mut free = direction.line.lock().await;
                let start = (*free).max(at);
                *free = start + busy;
                at = *free;
                drop(free);
                tokio::time::sleep_until(at).await;
            }
            let jitter = if direction.shape.jitter.is_zero() {
                Duration::ZERO
            } else {
                direction.shape.jitter.mul_f64(rng.gen::<f64>())
            };
            last_delivery = last_delivery.max(at + direction.shape.delay + jitter);
            if queue
                .send((last_delivery, buf[..take].to_vec()))
                .await
                .is_err()
            {
                return;
            }
            left -= take;
            if left == 0 {
                return;
            }
        }
    };
    // The reader ends (end of stream, or the limit reached) and the writer then delivers
    // what is queued; a writer that fails makes the reader's next send fail. Both live in
    // this future, so a cut (dropping it) stops both at once.
    tokio::join!(reader, writer);
}
