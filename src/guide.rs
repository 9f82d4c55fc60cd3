//! The serverwamp guide: how to build a WAMP application server with this
//! crate, one chapter per topic. Every Rust example in it is compiled, and
//! most are run, by `cargo test`.
//!
//! 1. [Getting started](getting_started): a server, a client, the wire.
//! 2. [Procedures and arguments](procedures): routes and extractors.
//! 3. [Results and errors](results_and_errors): what a handler returns.
//! 4. [Progressive results](progressive_results): reports before the result.
//! 5. [Canceling and timeouts](canceling_and_timeouts): calls that stop early.

#[doc = include_str!("../docs/guide/getting-started.md")]
pub mod getting_started {}

#[doc = include_str!("../docs/guide/procedures.md")]
pub mod procedures {}

#[doc = include_str!("../docs/guide/results-and-errors.md")]
pub mod results_and_errors {}

#[doc = include_str!("../docs/guide/progressive-results.md")]
pub mod progressive_results {}

#[doc = include_str!("../docs/guide/canceling-and-timeouts.md")]
pub mod canceling_and_timeouts {}

#[doc = include_str!("../docs/guide/events.md")]
pub mod events {}

#[doc = include_str!("../docs/guide/sessions.md")]
pub mod sessions {}

#[doc = include_str!("../docs/guide/realms.md")]
pub mod realms {}

#[doc = include_str!("../docs/guide/authentication.md")]
pub mod authentication {}

#[doc = include_str!("../docs/guide/authorization.md")]
pub mod authorization {}

#[doc = include_str!("../docs/guide/serving.md")]
pub mod serving {}
