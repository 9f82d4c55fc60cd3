//! `--idle N --hold SECS`: idle sessions held open, for a server's memory
//! per idle session.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::timeout;

use super::{OpenFailures, Options, Shared, open_bounded, seconds};

/// Most idle sessions one run may open.
const MAX_IDLE: usize = 20_000;

/// Opens `count` idle sessions, reports them open, holds them, closes them.
#[allow(clippy::print_stdout)] // reason: the "open" line is what scripts wait for
pub(super) async fn run_idle(
    options: &Options,
    shared: Arc<Shared>,
    count: usize,
) -> Result<(), String> {
    if !(1..=MAX_IDLE).contains(&count) {
        return Err(format!("--idle must be between 1 and {MAX_IDLE}"));
    }
    let hold = seconds("hold", options.hold, 0.0)?;
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let shared = Arc::clone(&shared);
        tasks.spawn(async move { open_bounded(&shared).await });
    }
    let mut sessions = Vec::with_capacity(count);
    let mut failed = OpenFailures::default();
    while let Some(joined) = tasks.join_next().await {
        sessions.extend(failed.check(joined));
    }
    let failed = failed.0;
    println!(
        "idle sessions open: {} failed={failed} hold={}s",
        sessions.len(),
        hold.as_secs_f64()
    );
    use std::io::Write as _;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    tokio::time::sleep(hold).await;
    let open = sessions.len();
    // Close in parallel, each briefly bounded; dropping is enough for the
    // rest.
    let mut closing = JoinSet::new();
    for mut ws in sessions {
        closing.spawn(async move {
            let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
        });
    }
    while closing.join_next().await.is_some() {}
    println!("idle sessions closed: {open}");
    if failed > 0 {
        return Err(format!(
            "{failed} of {count} idle sessions could not be opened"
        ));
    }
    Ok(())
}
