//! Realms as data: what the application and each realm are configured with
//! ([`AppConfig`], [`Realm`]), and the view of one realm a session resolves
//! once, at HELLO ([`RealmView`]): the connection's state machine asks the
//! view where a call or a subscription goes, and the view answers from the
//! realm's own settings and the application's.

mod call;
mod config;
mod dynamic;
mod limits;
mod view;

pub(crate) use call::call;
pub(crate) use config::AppConfig;
pub use config::Realm;
pub(crate) use dynamic::{DynamicRealms, RealmFactory};
pub use limits::Limits;
pub(crate) use view::RealmView;
