//! The state the HTTP server, its watches and the simulation share: the store behind one lock, the test hooks, the configuration.

use std::sync::{Mutex, MutexGuard};

use crate::api::store::Store;
use crate::config::SandboxConfig;
use crate::hooks::Hooks;

/// State shared by every request, watch and simulation task.
#[derive(Debug)]
pub struct Shared {
    store: Mutex<Store>,
    /// Test hooks and the request log.
    pub hooks: Hooks,
    /// The sandbox configuration.
    pub config: SandboxConfig,
}

impl Shared {
    /// Wraps a store.
    pub fn new(store: Store, config: SandboxConfig) -> Self {
        Self {
            store: Mutex::new(store),
            hooks: Hooks::default(),
            config,
        }
    }

    /// Locks the store (a poisoned lock is recovered: every write leaves the store consistent).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
