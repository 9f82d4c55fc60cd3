//! URIs that the WAMP specification predefines, so no code spells them twice.

/// Error URIs (`wamp.error.*`), used as ERROR, ABORT and GOODBYE reasons.
pub mod error {
    /// A peer sent a message that breaks the protocol.
    pub const PROTOCOL_VIOLATION: &str = "wamp.error.protocol_violation";
    /// A call named a procedure nobody provides.
    pub const NO_SUCH_PROCEDURE: &str = "wamp.error.no_such_procedure";
    /// An unsubscribe named a subscription that does not exist.
    pub const NO_SUCH_SUBSCRIPTION: &str = "wamp.error.no_such_subscription";
    /// An unregister named a registration that does not exist.
    pub const NO_SUCH_REGISTRATION: &str = "wamp.error.no_such_registration";
    /// A REGISTER named a procedure already registered in a way that
    /// cannot be shared.
    pub const PROCEDURE_ALREADY_EXISTS: &str = "wamp.error.procedure_already_exists";
    /// A HELLO named a realm the router does not serve.
    pub const NO_SUCH_REALM: &str = "wamp.error.no_such_realm";
    /// A URI broke the URI rules.
    pub const INVALID_URI: &str = "wamp.error.invalid_uri";
    /// A call's arguments did not fit the procedure.
    pub const INVALID_ARGUMENT: &str = "wamp.error.invalid_argument";
    /// The peer may not perform the action.
    pub const NOT_AUTHORIZED: &str = "wamp.error.not_authorized";
    /// Authentication failed.
    pub const AUTHENTICATION_FAILED: &str = "wamp.error.authentication_failed";
    /// None of the client's authentication methods is offered.
    pub const NO_MATCHING_AUTH_METHOD: &str = "wamp.error.no_matching_auth_method";
    /// A peer asked for a feature the other side does not support.
    pub const FEATURE_NOT_SUPPORTED: &str = "wamp.error.feature_not_supported";
    /// A call was canceled.
    pub const CANCELED: &str = "wamp.error.canceled";
    /// A call took longer than its timeout.
    pub const TIMEOUT: &str = "wamp.error.timeout";
    /// A handler failed unexpectedly.
    pub const RUNTIME_ERROR: &str = "wamp.error.runtime_error";
    /// A message could not be delivered within the transport's size limit.
    pub const PAYLOAD_SIZE_EXCEEDED: &str = "wamp.error.payload_size_exceeded";
}

/// Close reasons (`wamp.close.*`), used in GOODBYE and ABORT.
pub mod close {
    /// A normal close.
    pub const NORMAL: &str = "wamp.close.normal";
    /// The reply to a peer's GOODBYE.
    pub const GOODBYE_AND_OUT: &str = "wamp.close.goodbye_and_out";
    /// The router is shutting down.
    pub const SYSTEM_SHUTDOWN: &str = "wamp.close.system_shutdown";
    /// The session was closed by the router for a reason of its own.
    pub const CLOSE_REALM: &str = "wamp.close.close_realm";
    /// The session was forcefully terminated.
    pub const KILLED: &str = "wamp.close.killed";
}
