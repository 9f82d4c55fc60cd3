//! The load client, tokio-tungstenite whatever the server's stack, and the
//! idle-memory probe.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub struct LoadOptions {
    pub addr: SocketAddr,
    pub connections: usize,
    pub size: usize,
    pub text: bool,
    pub depth: usize,
    pub warmup: f64,
    pub duration: f64,
    pub server_pid: u32,
}

type Client = WebSocketStream<TcpStream>;

async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .read_buffer_size(32 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(crate::MAX_MESSAGE))
        .max_frame_size(Some(crate::MAX_MESSAGE));
    let url = format!("ws://{addr}/");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// Opens `n` connections, at most 64 handshakes at a time.
async fn connect_all(addr: SocketAddr, n: usize) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    let mut started = 0;
    while clients.len() < n {
        while started < n && pending.len() < 64 {
            pending.spawn(connect(addr));
            started += 1;
        }
        let Some(done) = pending.join_next().await else {
            break;
        };
        clients.push(done.map_err(|e| e.to_string())??);
    }
    Ok(clients)
}

fn message(size: usize, text: bool) -> Message {
    if text {
        Message::Text(Utf8Bytes::from("x".repeat(size)))
    } else {
        Message::Binary(Bytes::from(vec![0xa5u8; size]))
    }
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A process's resident memory, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One connection's share: messages answered inside the window and their
/// round-trip times in microseconds.
async fn drive(
    mut ws: Client,
    message: Message,
    depth: usize,
    window: (Instant, Instant),
) -> Result<(u64, Vec<u32>), String> {
    let (from, until) = window;
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let mut latencies = Vec::new();
    let mut count = 0u64;
    for _ in 0..depth {
        ws.feed(message.clone()).await.map_err(|e| e.to_string())?;
        sent.push_back(Instant::now());
    }
    ws.flush().await.map_err(|e| e.to_string())?;
    while let Some(at) = sent.pop_front() {
        let answer = ws
            .next()
            .await
            .ok_or("server closed")?
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        if !(answer.is_text() || answer.is_binary()) || answer.len() != message.len() {
            return Err(format!("unexpected answer {} bytes", answer.len()));
        }
        if now >= from && now < until {
            count += 1;
            latencies.push(u32::try_from((now - at).as_micros()).unwrap_or(u32::MAX));
        }
        if now < until {
            ws.send(message.clone()).await.map_err(|e| e.to_string())?;
            sent.push_back(Instant::now());
        }
    }
    let _ = ws.close(None).await;
    Ok((count, latencies))
}

pub async fn load(options: LoadOptions) -> Result<(), String> {
    let clients = connect_all(options.addr, options.connections).await?;
    let message = message(options.size, options.text);
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(options.warmup);
    let until = from + Duration::from_secs_f64(options.duration);
    let pid = options.server_pid;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let before = cpu_ticks(pid);
        tokio::time::sleep_until(until.into()).await;
        Some(cpu_ticks(pid)? - before?)
    });
    let mut tasks = tokio::task::JoinSet::new();
    for ws in clients {
        tasks.spawn(drive(
            ws,
            message.clone(),
            options.depth.max(1),
            (from, until),
        ));
    }
    let mut total = 0u64;
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (count, mut each) = done.map_err(|e| e.to_string())??;
        total += count;
        latencies.append(&mut each);
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index]
    };
    let rate = total as f64 / options.duration;
    let ticks = cpu.await.ok().flatten();
    // Clock ticks are 1/100 s on Linux.
    let (cpu_us_per_msg, cpu_pct) = match ticks {
        Some(t) if total > 0 => (
            t as f64 * 10_000.0 / total as f64,
            t as f64 / options.duration,
        ),
        _ => (f64::NAN, f64::NAN),
    };
    println!(
        "RESULT msgs_per_s={rate:.0} p50_us={} p99_us={} p999_us={} max_us={} server_cpu_us_per_msg={cpu_us_per_msg:.2} server_cpu_pct={cpu_pct:.0}",
        percentile(0.50),
        percentile(0.99),
        percentile(0.999),
        latencies.last().copied().unwrap_or(0),
    );
    Ok(())
}

/// The bytes the server has allocated, from its side port.
async fn heap(addr: SocketAddr) -> Result<i64, String> {
    use tokio::io::AsyncReadExt;
    let side = SocketAddr::new(addr.ip(), addr.port() + 1);
    let mut tcp = TcpStream::connect(side)
        .await
        .map_err(|e| format!("side port: {e}"))?;
    let mut text = String::new();
    tcp.read_to_string(&mut text)
        .await
        .map_err(|e| e.to_string())?;
    text.trim().parse().map_err(|e| format!("side port: {e}"))
}

pub async fn idle(addr: SocketAddr, connections: usize, pid: u32) -> Result<(), String> {
    let before = rss_kib(pid).ok_or("cannot read the server's VmRSS (--server-pid)")?;
    let heap_before = heap(addr).await?;
    let mut clients = connect_all(addr, connections).await?;
    // One small message each way, so that each connection has been used
    // (buffers touched) before it idles, as a session's HELLO/WELCOME.
    let hello = message(20, true);
    for ws in &mut clients {
        ws.send(hello.clone()).await.map_err(|e| e.to_string())?;
    }
    for ws in &mut clients {
        ws.next()
            .await
            .ok_or("server closed")?
            .map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
    let heap_after = heap(addr).await?;
    let per = (after as f64 - before as f64) / connections as f64;
    let heap_per = (heap_after - heap_before) as f64 / 1024.0 / connections as f64;
    println!(
        "RESULT connections={connections} rss_before_kib={before} rss_after_kib={after} per_conn_kib={per:.2} heap_per_conn_kib={heap_per:.2}"
    );
    for mut ws in clients {
        let _ = ws.close(None).await;
    }
    Ok(())
}
