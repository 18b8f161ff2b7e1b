//! The state the HTTP server, its watches and the simulation share: the store behind one lock, the test hooks, the configuration and the bearer token.

use std::sync::{Mutex, MutexGuard};

use crate::api::store::Store;
use crate::config::SandboxConfig;
use crate::hooks::Hooks;

/// State shared by every request, watch and simulation task.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Mutex<Store>,
    /// Test hooks and the request log.
    pub(crate) hooks: Hooks,
    /// The sandbox configuration.
    pub(crate) config: SandboxConfig,
    /// The bearer token every request must carry (with TLS), if any.
    pub(crate) token: Option<String>,
}

impl Shared {
    /// Wraps a store.
    pub(crate) fn new(store: Store, config: SandboxConfig) -> Self {
        Self {
            store: Mutex::new(store),
            hooks: Hooks::default(),
            config,
            token: None,
        }
    }

    /// Requires `token` as a bearer token on every request.
    pub(crate) fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Locks the store (a poisoned lock is recovered: every write leaves the store consistent).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
