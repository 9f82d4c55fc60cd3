//! WebSocket stacks side by side, for serverwamp's choice of WebSocket layer
//! (issue 11, item 3).
//!
//! One binary, three modes:
//!
//! ```text
//! ws-stacks serve --stack tungstenite|tokio-websockets|fastwebsockets [--listen 127.0.0.1:47311]
//! ws-stacks load  --connections 100 --size 20 --kind text [--depth 1] [--warmup 2] [--duration 8] [--server-pid PID]
//! ws-stacks idle  --connections 5000 --server-pid PID
//! ws-stacks micro --stack NAME --messages 100000 --size 20 --kind text [--repeat 5]
//! ```
//!
//! The server echoes text and binary messages back. Every stack gets the
//! same TCP socket after the same hand-written opening handshake, so only
//! the WebSocket layer differs; each is configured as serverwamp configures
//! tokio-tungstenite (4 KiB buffers where settable, 16 MiB limits) and
//! writes are coalesced: answers are queued and flushed once no received
//! frame is waiting. The client is always tokio-tungstenite.

mod alloc;
mod client;
mod coalesce;
mod micro;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// What `--stack` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    Tungstenite,
    TokioWebsockets,
    Fastwebsockets,
}

impl Stack {
    fn parse(name: &str) -> Option<Stack> {
        match name {
            "tungstenite" | "tokio-tungstenite" => Some(Stack::Tungstenite),
            "tokio-websockets" => Some(Stack::TokioWebsockets),
            "fastwebsockets" => Some(Stack::Fastwebsockets),
            _ => None,
        }
    }
}

/// The limits every stack gets: serverwamp's `WebSocketSettings` defaults.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Read and write buffer size where the stack lets it be set.
pub const BUFFER: usize = 4 * 1024;

/// `--name value` pairs of the command line after the mode.
struct Args(Vec<(String, String)>);

impl Args {
    fn parse(items: &[String]) -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut items = items.iter();
        while let Some(name) = items.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(format!("unexpected argument {name}"));
            };
            let value = items
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value.clone()));
        }
        Ok(Args(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v}")),
        }
    }
}

fn run() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = argv.split_first() else {
        return Err("usage: ws-stacks serve|load|idle --name value ...".into());
    };
    let args = Args::parse(rest)?;
    let addr: SocketAddr = args
        .get("listen")
        .or(args.get("connect"))
        .unwrap_or("127.0.0.1:47311")
        .parse()
        .map_err(|e| format!("address: {e}"))?;
    match mode.as_str() {
        "serve" => {
            let stack = args
                .get("stack")
                .and_then(Stack::parse)
                .ok_or("--stack tungstenite|tokio-websockets|fastwebsockets")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(server::serve(addr, stack))
        }
        "load" => {
            let options = client::LoadOptions {
                addr,
                connections: args.num("connections", 100)?,
                size: args.num("size", 20)?,
                text: args.get("kind").unwrap_or("text") == "text",
                depth: args.num("depth", 1)?,
                warmup: args.num("warmup", 2.0)?,
                duration: args.num("duration", 8.0)?,
                server_pid: args.num("server-pid", 0)?,
            };
            client_runtime()?.block_on(client::load(options))
        }
        "micro" => {
            let stack = args
                .get("stack")
                .and_then(Stack::parse)
                .ok_or("--stack tungstenite|tokio-websockets|fastwebsockets")?;
            micro::micro(
                stack,
                args.num("messages", 100_000)?,
                args.num("size", 20)?,
                args.get("kind").unwrap_or("text") == "text",
                args.num("repeat", 1)?,
            )
        }
        "idle" => {
            let connections = args.num("connections", 5000)?;
            let pid = args.num("server-pid", 0)?;
            client_runtime()?.block_on(client::idle(addr, connections, pid))
        }
        other => Err(format!("unknown mode {other}")),
    }
}

/// The client runs on one worker thread: the run script pins it to one CPU.
fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ws-stacks: {error}");
            ExitCode::FAILURE
        }
    }
}
