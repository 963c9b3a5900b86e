//! The long-running service: wiring, startup order and the shutdown protocol.

pub mod poller;
pub mod server;
pub mod telemetry;
pub mod worker;
