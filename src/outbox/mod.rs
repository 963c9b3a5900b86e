//! The outbox: side effects decided by flows, executed by [`executor::Executor`] through the
//! vendors' clients ([`effects::VendorEffects`]).

mod action;
pub mod effects;
pub mod email;
pub mod executor;

pub use action::{fill, Action, Target};
pub use executor::{Effects, Executor};
