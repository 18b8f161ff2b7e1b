//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the
//! few types typed Go clients send that way here: Secrets and ConfigMaps (Helm's release storage,
//! `kubectl create`), Namespaces, ServiceAccounts and DeleteOptions. Responses stay JSON.

use base64::Engine;
use serde_json::{Map, Value, json};

/// A body that is not a protobuf object this server can read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// The bytes do not start with the `k8s\0` envelope.
    #[error("missing the k8s protobuf envelope")]
    EnvelopeMissing,
    /// The protobuf encoding is malformed.
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    /// The kind has no decoder here.
    #[error("protobuf bodies of kind {0:?} are not supported by the sandbox; send JSON")]
    KindUnsupported(String),
}

/// Result alias for this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or(Error::Malformed("truncated varint"))?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(Error::Malformed("varint too long"))
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let wire = match tag & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?)
                    .map_err(|_| Error::Malformed("length"))?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or(Error::Malformed("truncated field"))?;
                let b = &buf[pos..end];
                pos = end;
                Wire::Bytes(b)
            }
            5 => {
                pos += 4;
                Wire::Fixed
            }
            _ => return Err(Error::Malformed("unknown wire type")),
        };
        if pos > buf.len() {
            return Err(Error::Malformed("truncated field"));
        }
        out.push((tag >> 3, wire));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    Str,

    Bool,
    Int,
    Time,
    MapStr,
    MapBytes,
    RepStr,
    Msg(&'static [Field]),
    RepMsg(&'static [Field]),
}

type Field = (u64, &'static str, Kind);

const OWNER_REF: &[Field] = &[
    (1, "kind", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "controller", Kind::Bool),
    (7, "blockOwnerDeletion", Kind::Bool),
];
const OBJECT_META: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "generateName", Kind::Str),
    (3, "namespace", Kind::Str),
    (5, "uid", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "generation", Kind::Int),
    (8, "creationTimestamp", Kind::Time),
    (9, "deletionTimestamp", Kind::Time),
    (10, "deletionGracePeriodSeconds", Kind::Int),
    (11, "labels", Kind::MapStr),
    (12, "annotations", Kind::MapStr),
    (13, "ownerReferences", Kind::RepMsg(OWNER_REF)),
    (14, "finalizers", Kind::RepStr),
];
const SECRET: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapBytes),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::MapStr),
    (5, "immutable", Kind::Bool),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapStr),
    (3, "binaryData", Kind::MapBytes),
    (4, "immutable", Kind::Bool),
];
const NAMESPACE_SPEC: &[Field] = &[(1, "finalizers", Kind::RepStr)];
const NAMESPACE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(NAMESPACE_SPEC)),
];
const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (4, "automountServiceAccountToken", Kind::Bool),
];
const PRECONDITIONS: &[Field] = &[(1, "uid", Kind::Str), (2, "resourceVersion", Kind::Str)];
const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Kind::Int),
    (2, "preconditions", Kind::Msg(PRECONDITIONS)),
    (3, "orphanDependents", Kind::Bool),
    (4, "propagationPolicy", Kind::Str),
    (5, "dryRun", Kind::RepStr),
];

fn text(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::Malformed("invalid UTF-8 string"))
}

fn bytes_of<'a>(w: &Wire<'a>) -> Result<&'a [u8]> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(Error::Malformed("expected a length-delimited field")),
    }
}

fn map_entry(b: &[u8], value_bytes: bool) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = json!("");
    for (n, w) in fields(b)? {
        let raw = bytes_of(&w)?;
        match n {
            1 => key = text(raw)?,
            2 if value_bytes => {
                value = json!(base64::engine::general_purpose::STANDARD.encode(raw))
            }
            2 => value = json!(text(raw)?),
            _ => {}
        }
    }
    Ok((key, value))
}

fn time(b: &[u8]) -> Result<Value> {
    let mut secs = 0i64;
    for (n, w) in fields(b)? {
        if let (1, Wire::Varint(v)) = (n, w) {
            secs = v as i64;
        }
    }
    let t = k8s_openapi::jiff::Timestamp::from_second(secs)
        .map_err(|_| Error::Malformed("time out of range"))?;
    Ok(json!(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn message(b: &[u8], schema: &[Field]) -> Result<Value> {
    let mut out = Map::new();
    for (n, w) in fields(b)? {
        let Some((_, name, kind)) = schema.iter().find(|(f, _, _)| *f == n) else {
            continue;
        };
        let name = name.to_string();
        match (kind, &w) {
            (Kind::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(*v != 0));
            }
            (Kind::Int, Wire::Varint(v)) => {
                out.insert(name, json!(*v as i64));
            }
            (Kind::Str, _) => {
                out.insert(name, json!(text(bytes_of(&w)?)?));
            }
            (Kind::Time, _) => {
                out.insert(name, time(bytes_of(&w)?)?);
            }
            (Kind::MapStr | Kind::MapBytes, _) => {
                let (k, v) = map_entry(bytes_of(&w)?, matches!(kind, Kind::MapBytes))?;
                if let Value::Object(m) = out.entry(name).or_insert_with(|| json!({})) {
                    m.insert(k, v);
                }
            }
            (Kind::RepStr, _) => {
                let s = text(bytes_of(&w)?)?;
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(json!(s));
                }
            }
            (Kind::Msg(inner), _) => {
                out.insert(name, message(bytes_of(&w)?, inner)?);
            }
            (Kind::RepMsg(inner), _) => {
                let m = message(bytes_of(&w)?, inner)?;
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(m);
                }
            }
            _ => return Err(Error::Malformed("unexpected wire type")),
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-enveloped protobuf object into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value> {
    let rest = body.strip_prefix(b"k8s\0").ok_or(Error::EnvelopeMissing)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, w) in fields(rest)? {
        match n {
            1 => {
                for (tn, tw) in fields(bytes_of(&w)?)? {
                    match tn {
                        1 => api_version = text(bytes_of(&tw)?)?,
                        2 => kind = text(bytes_of(&tw)?)?,
                        _ => {}
                    }
                }
            }
            2 => raw = bytes_of(&w)?,
            _ => {}
        }
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => SECRET,
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        _ => return Err(Error::KindUnsupported(kind)),
    };
    let mut obj = message(raw, schema)?;
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_secret() {
        let entry = [field(1, b"release"), field(2, b"\x01\x02")].concat();
        let label = [field(1, b"owner"), field(2, b"helm")].concat();
        let meta = [field(1, b"sh.helm.release.v1.demo.v1"), field(11, &label)].concat();
        let secret = [
            field(1, &meta),
            field(2, &entry),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.demo.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], "AQI=");
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert_eq!(v["kind"], "Secret");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode(b"nope"), Err(Error::EnvelopeMissing));
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        let type_meta = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta)].concat();
        assert_eq!(
            decode(&body),
            Err(Error::KindUnsupported("Deployment".into()))
        );
    }
}
