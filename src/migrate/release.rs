//! Decoding a Helm release record as Helm's Secret storage driver writes it.
//!
//! Helm stores release `vN` of `RELEASE` in the Secret `sh.helm.release.v1.RELEASE.vN`
//! (labels `owner=helm`, `name=RELEASE`, `version=N`, `status`), its `release` key holding
//! base64 of the gzipped release JSON — which the Secret's own base64 wraps once more on the
//! wire. Older releases may be stored without gzip; both are read.

use std::io::Read as _;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

use super::Error;

/// Prefix of Helm's release Secret names.
pub(crate) const SECRET_PREFIX: &str = "sh.helm.release.v1.";
/// The Secret data key holding the encoded release.
pub(crate) const RELEASE_KEY: &str = "release";
/// The gzip magic number (with the deflate method byte), as Helm checks it.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// The most a release record may decompress to. A real one is a few MiB at most (its chart's
/// files, values and manifest); a Secret holds at most 1 MiB, which gzip can blow up a
/// thousandfold.
pub(crate) const MAX_RELEASE_BYTES: u64 = 64 << 20;

/// The parts of a Helm release a migration needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub(crate) namespace: String,
    /// Release revision.
    pub version: u64,
    /// The values the user supplied (`--set`, `-f`): Helm's `config`, without chart defaults.
    pub(crate) config: Value,
    /// The chart's name.
    pub(crate) chart_name: String,
    /// The chart's version.
    pub(crate) chart_version: String,
    /// Status of the revision (`deployed`, `superseded`, `failed`, …).
    pub status: String,
    /// The rendered manifest Helm applied.
    pub manifest: String,
}

/// Decodes the `release` value of a release Secret (the bytes after the Secret's own base64):
/// base64, then gzip if it starts with gzip's magic number, then JSON.
pub(crate) fn decode(secret: &str, data: &[u8]) -> Result<Release, Error> {
    let text = std::str::from_utf8(data).map_err(|_| Error::DecodeFailed {
        secret: secret.to_string(),
        step: "base64",
        reason: "the release data is not text".to_string(),
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Error::DecodeFailed {
            secret: secret.to_string(),
            step: "base64",
            reason: e.to_string(),
        })?;
    let json = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_RELEASE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::DecodeFailed {
                secret: secret.to_string(),
                step: "gzip",
                reason: e.to_string(),
            })?;
        if out.len() as u64 > MAX_RELEASE_BYTES {
            return Err(Error::DecodeFailed {
                secret: secret.to_string(),
                step: "gzip",
                reason: format!(
                    "the release decompresses to more than {} MiB, more than any Helm release holds (a gzip bomb?)",
                    MAX_RELEASE_BYTES >> 20
                ),
            });
        }
        out
    } else {
        bytes
    };
    let value: Value = serde_json::from_slice(&json).map_err(|e| Error::DecodeFailed {
        secret: secret.to_string(),
        step: "JSON",
        reason: e.to_string(),
    })?;
    from_json(secret, &value)
}

/// Reads the fields of a release JSON document.
fn from_json(secret: &str, value: &Value) -> Result<Release, Error> {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let name = text("/name").ok_or_else(|| Error::DecodeFailed {
        secret: secret.to_string(),
        step: "JSON",
        reason: "the release has no name".to_string(),
    })?;
    let config = match value.get("config") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(Error::DecodeFailed {
                secret: secret.to_string(),
                step: "JSON",
                reason: "the release's config (user-supplied values) is not a mapping".to_string(),
            });
        }
    };
    Ok(Release {
        name: name.to_string(),
        namespace: text("/namespace").unwrap_or_default().to_string(),
        version: value.get("version").and_then(Value::as_u64).unwrap_or(0),
        config,
        chart_name: text("/chart/metadata/name").unwrap_or_default().to_string(),
        chart_version: text("/chart/metadata/version")
            .unwrap_or_default()
            .to_string(),
        status: text("/info/status").unwrap_or_default().to_string(),
        manifest: text("/manifest").unwrap_or_default().to_string(),
    })
}

/// The revision of a release Secret: its `version` label, else the `.vN` suffix of its name.
pub(crate) fn revision(name: &str, version_label: Option<&str>) -> Option<u64> {
    version_label
        .and_then(|v| v.parse().ok())
        .or_else(|| name.rsplit_once(".v").and_then(|(_, n)| n.parse().ok()))
}

/// The Secret name of revision `version` of `release`.
pub(crate) fn secret_name(release: &str, version: u64) -> String {
    format!("{SECRET_PREFIX}{release}.v{version}")
}

/// The label selector of every release Secret of `release`.
pub fn secret_selector(release: &str) -> String {
    format!("owner=helm,name={release}")
}

/// The revision of a release chosen from its Secrets, and the names of all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<'a> {
    /// Its revision, as its Secret says.
    pub revision: u64,
    /// Whether that revision is the deployed one (else no revision is deployed).
    pub deployed: bool,
    /// Every release Secret's name, oldest revision first.
    pub secrets: Vec<String>,
    namespace: String,
    name: String,
    secret: &'a Secret,
}

/// The newest deployed revision of `release` among its `secrets` (listed with
/// [`secret_selector`] in `namespace`), else the newest of any status.
pub fn latest<'a>(
    release: &str,
    namespace: &str,
    secrets: &'a [Secret],
) -> Result<Stored<'a>, Error> {
    let mut found: Vec<(u64, bool, &Secret)> = secrets
        .iter()
        .filter_map(|s| {
            let name = s.metadata.name.as_deref()?;
            let labels = s.metadata.labels.as_ref();
            let version = revision(
                name,
                labels.and_then(|l| l.get("version")).map(String::as_str),
            )?;
            let deployed = labels
                .and_then(|l| l.get("status"))
                .is_some_and(|s| s == "deployed");
            Some((version, deployed, s))
        })
        .collect();
    found.sort_by_key(|(version, _, _)| *version);
    let names: Vec<String> = found
        .iter()
        .filter_map(|(_, _, s)| s.metadata.name.clone())
        .collect();
    let chosen = found
        .iter()
        .rev()
        .find(|(_, deployed, _)| *deployed)
        .or_else(|| found.last());
    let Some((version, deployed, secret)) = chosen else {
        return Err(Error::ReleaseNotFound {
            release: release.to_string(),
            namespace: namespace.to_string(),
            selector: secret_selector(release),
        });
    };
    Ok(Stored {
        revision: *version,
        deployed: *deployed,
        secrets: names,
        namespace: namespace.to_string(),
        name: secret_name(release, *version),
        secret,
    })
}

/// The newest revision of `release` when it is newer than `deployed` (a failed or pending
/// upgrade after it), read from the same `secrets` as [`latest`].
pub fn newer_than<'a>(
    release: &str,
    namespace: &str,
    secrets: &'a [Secret],
    deployed: &Stored<'_>,
) -> Option<Stored<'a>> {
    let newest = secrets
        .iter()
        .filter_map(|s| {
            let name = s.metadata.name.as_deref()?;
            let labels = s.metadata.labels.as_ref();
            let version = revision(
                name,
                labels.and_then(|l| l.get("version")).map(String::as_str),
            )?;
            Some((version, s))
        })
        .max_by_key(|(version, _)| *version)?;
    (deployed.deployed && newest.0 > deployed.revision).then(|| Stored {
        revision: newest.0,
        deployed: false,
        secrets: deployed.secrets.clone(),
        namespace: namespace.to_string(),
        name: secret_name(release, newest.0),
        secret: newest.1,
    })
}

impl Stored<'_> {
    /// The release the chosen Secret holds.
    pub fn decode(&self) -> Result<Release, Error> {
        let data = self
            .secret
            .data
            .as_ref()
            .and_then(|d| d.get(RELEASE_KEY))
            .ok_or_else(|| Error::ReleaseKeyMissing {
                namespace: self.namespace.clone(),
                secret: self.name.clone(),
                key: RELEASE_KEY,
            })?;
        decode(&self.name, &data.0)
    }
}
