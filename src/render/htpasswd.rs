//! Sprig's `htpasswd`: an Apache `user:bcrypt` entry, deterministic here. Go draws a random salt
//! on every render; the salt here is derived from the custom resource's uid, the user and the
//! password, so the same resource renders the same bytes while each resource gets its own salt.
//! Hashing costs tens of milliseconds by design, so entries are remembered per process.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use sha2::{Digest as _, Sha256};
use tera::{Kwargs, State, TeraResult, Value};

/// Go's `bcrypt.DefaultCost`, which Sprig uses.
const COST: u32 = 10;

/// Entries remembered, at most (the cache is emptied when full).
const REMEMBERED: usize = 4096;

/// Hashes made, by a digest of (seed, user, password).
static MADE: LazyLock<Mutex<HashMap<[u8; 32], String>>> = LazyLock::new(Default::default);

/// `{{ user | htpasswd(password=p, seed=release.uid) }}`: `user:$2a$10$…` as Sprig's
/// `htpasswd user p` writes it (a user holding `:` gives Sprig's `invalid username: …` text).
pub(crate) fn htpasswd(user: &str, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    if user.contains(':') {
        return Ok(Value::from(format!("invalid username: {user}")));
    }
    let password = kwargs.must_get::<&str>("password")?;
    let seed = kwargs.get::<&str>("seed")?.unwrap_or_default();
    Ok(Value::from(format!(
        "{user}:{}",
        entry(seed, user, password).map_err(tera::Error::message)?
    )))
}

/// The bcrypt hash of `password`, salted from (`seed`, `user`, `password`).
fn entry(seed: &str, user: &str, password: &str) -> Result<String, String> {
    let mut digest = Sha256::new();
    for part in [seed, user, password] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let key: [u8; 32] = digest.finalize().into();
    if let Some(made) = MADE.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(made);
    }
    let salt_digest = Sha256::digest([b"tera-operator htpasswd salt".as_slice(), &key].concat());
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&salt_digest[..16]);
    let hash = bcrypt::non_truncating_hash_with_salt(password, COST, salt)
        .map_err(|e| format!("htpasswd: {e}"))?
        .format_for_version(bcrypt::Version::TwoA);
    if let Ok(mut made) = MADE.lock() {
        if made.len() >= REMEMBERED {
            made.clear();
        }
        made.insert(key, hash.clone());
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_verifies_and_depends_on_the_seed() {
        let a = entry("uid-1", "job", "A7ERGdgwLHnY").unwrap();
        assert!(a.starts_with("$2a$10$"), "{a}");
        assert_eq!(a.len(), 60);
        assert!(bcrypt::verify("A7ERGdgwLHnY", &a).unwrap());
        assert!(!bcrypt::verify("other", &a).unwrap());
        assert_eq!(entry("uid-1", "job", "A7ERGdgwLHnY").unwrap(), a);
        assert_ne!(entry("uid-2", "job", "A7ERGdgwLHnY").unwrap(), a);
        assert!(entry("uid-1", "job", &"x".repeat(73)).is_err());
    }
}
