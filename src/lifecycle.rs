//! Session open and close handlers: their kind and context.

use std::sync::Arc;

use crate::handler::{Direct, HandlerKind, IntoOutcome, StateMap, WampError, common_extractors};
use crate::session::Session;

/// What a session open or close handler may ask for: the
/// [`Session`] and [`State<T>`](crate::handler::State).
#[derive(Clone)]
pub struct SessionContext {
    pub(crate) session: Session,
    pub(crate) state: Arc<StateMap>,
}

impl SessionContext {
    /// The session that opened or closed.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

common_extractors!(SessionContext);

/// The kind of handler run when a session opens (after authentication,
/// before WELCOME) or closes; it returns `()`. One whose arguments cannot
/// be extracted is skipped (logged).
#[derive(Debug)]
pub enum OnSession {}

impl HandlerKind for OnSession {
    type Context = SessionContext;
    type Outcome = ();

    fn rejected(error: WampError) {
        tracing::error!(%error, "a session handler could not get its arguments; skipped");
    }
}

impl IntoOutcome<OnSession, Direct> for () {
    fn into_outcome(self) {}
}
