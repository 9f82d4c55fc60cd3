//! The program behind the instruction-count guard (`scripts/instructions`):
//! one session that says HELLO and makes N CALLs to an echo procedure,
//! served straight by the engine from in-memory frames (decode → dispatch →
//! handler → encode), with no socket and no WebSocket framing in between.
//!
//! ```text
//! cargo run --release --features harness --example instructions -- --calls 1000 [--serializer json|msgpack|cbor]
//! ```
//!
//! Run under `valgrind --tool=callgrind` twice with different N, the
//! difference divided by the difference in N is the instruction count of
//! one CALL, the same from run to run whatever else the machine does.

use clap::Parser;
use serverwamp::Application;
use serverwamp::protocol::{Codec, Dict, Serialization, Value};
use serverwamp::rpc::{Args, Kwargs, RpcResult, RpcRouteSet};

#[derive(Parser)]
struct Options {
    /// How many CALLs the session makes.
    #[arg(long, default_value_t = 1000)]
    calls: u64,
    /// json, msgpack or cbor.
    #[arg(long, default_value = "json")]
    serializer: String,
}

async fn echo(Args(args): Args<Vec<Value>>, Kwargs(kwargs): Kwargs<Dict>) -> RpcResult {
    RpcResult { args, kwargs }
}

fn main() {
    let options = Options::parse();
    let serialization = match options.serializer.as_str() {
        "json" => Serialization::Json,
        "msgpack" => Serialization::MsgPack,
        "cbor" => Serialization::Cbor,
        other => panic!("unknown serializer {other}"),
    };
    let codec = Codec::new(serialization);
    let encode = |value: Value| {
        let mut frame = Vec::new();
        codec.encode_frame(&value, &mut frame).expect("encodes");
        frame
    };
    let list = Value::List;
    let mut frames = vec![encode(list(vec![
        Value::UInt(1),
        "realm1".into(),
        Value::Dict(Dict::new()),
    ]))];
    for request in 1..=options.calls {
        frames.push(encode(list(vec![
            Value::UInt(48),
            Value::UInt(request),
            Value::Dict(Dict::new()),
            "bench.echo".into(),
            list(vec![Value::UInt(1), "x".into()]),
        ])));
    }
    let mut routes = RpcRouteSet::new();
    routes.route("bench.echo", echo);
    let mut app = Application::new();
    app.add_routes(routes);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let subprotocol = codec.subprotocol();
    let written = runtime.block_on(serverwamp::harness::serve_frames(&app, subprotocol, frames));
    // WELCOME, then one RESULT per CALL.
    let expected = usize::try_from(options.calls).expect("a count") + 1;
    assert_eq!(written.len(), expected, "every CALL was answered");
}
