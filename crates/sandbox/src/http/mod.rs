//! The HTTP surface: routing, discovery, watches and the wire formats clients ask for.

pub(crate) mod definitions;
pub(crate) mod discovery;
pub(crate) mod openapi;
pub(crate) mod protobuf;
pub(crate) mod reviews;
pub(crate) mod server;
pub(crate) mod table;
pub(crate) mod watch;
