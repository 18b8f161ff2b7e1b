//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the
//! types typed Go clients send that way (Helm's release Secrets, `kubectl create` of ConfigMaps,
//! Secrets, Namespaces, ServiceAccounts, Deployments, Services, DeleteOptions; the reviews of
//! `kubectl auth can-i|whoami`); fields outside the
//! decoded subset are refused (415), never dropped. Responses stay JSON.

use base64::Engine;
use serde_json::{Map, Value, json};

/// A body that is not a protobuf object this server can read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum Error {
    /// The bytes do not start with the `k8s\0` envelope.
    #[error("missing the k8s protobuf envelope")]
    EnvelopeMissing,
    /// The protobuf encoding is malformed.
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    /// The kind has no decoder here.
    #[error("protobuf bodies of kind {0:?} are not supported by the sandbox; send JSON")]
    KindUnsupported(String),
    /// The body sets a field this decoder does not know (rather than dropping it silently).
    #[error("protobuf field {field} of {message} is not supported by the sandbox; send JSON")]
    FieldUnsupported {
        /// The message (JSON field path).
        message: String,
        /// The protobuf field number.
        field: u64,
    },
}

/// Result alias for this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

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

    /// A non-pointer bool (omitted when false, like `omitempty`).
    Bool,
    /// A pointer bool (kept when false).
    OptBool,
    /// A non-pointer integer (omitted when zero).
    Int,
    /// A pointer integer (kept when zero).
    OptInt,
    Time,
    IntOrString,
    MapQuantity,
    Skip,
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
    (10, "deletionGracePeriodSeconds", Kind::OptInt),
    (11, "labels", Kind::MapStr),
    (12, "annotations", Kind::MapStr),
    (13, "ownerReferences", Kind::RepMsg(OWNER_REF)),
    (14, "finalizers", Kind::RepStr),
    (4, "selfLink", Kind::Skip),
    (17, "managedFields", Kind::Skip),
];
const SECRET: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapBytes),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::MapStr),
    (5, "immutable", Kind::OptBool),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapStr),
    (3, "binaryData", Kind::MapBytes),
    (4, "immutable", Kind::OptBool),
];
const NAMESPACE_SPEC: &[Field] = &[(1, "finalizers", Kind::RepStr)];
const NAMESPACE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(NAMESPACE_SPEC)),
    (3, "status", Kind::Skip),
];
const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (4, "automountServiceAccountToken", Kind::OptBool),
];
const LABEL_REQUIREMENT: &[Field] = &[
    (1, "key", Kind::Str),
    (2, "operator", Kind::Str),
    (3, "values", Kind::RepStr),
];
const LABEL_SELECTOR: &[Field] = &[
    (1, "matchLabels", Kind::MapStr),
    (2, "matchExpressions", Kind::RepMsg(LABEL_REQUIREMENT)),
];
const CONTAINER_PORT: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "hostPort", Kind::Int),
    (3, "containerPort", Kind::Int),
    (4, "protocol", Kind::Str),
    (5, "hostIP", Kind::Str),
];
const ENV_VAR: &[Field] = &[(1, "name", Kind::Str), (2, "value", Kind::Str)];
const RESOURCES: &[Field] = &[
    (1, "limits", Kind::MapQuantity),
    (2, "requests", Kind::MapQuantity),
];
const CONTAINER: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "image", Kind::Str),
    (3, "command", Kind::RepStr),
    (4, "args", Kind::RepStr),
    (5, "workingDir", Kind::Str),
    (6, "ports", Kind::RepMsg(CONTAINER_PORT)),
    (7, "env", Kind::RepMsg(ENV_VAR)),
    (8, "resources", Kind::Msg(RESOURCES)),
    (13, "terminationMessagePath", Kind::Str),
    (14, "imagePullPolicy", Kind::Str),
    (16, "stdin", Kind::Bool),
    (17, "stdinOnce", Kind::Bool),
    (18, "tty", Kind::Bool),
    (20, "terminationMessagePolicy", Kind::Str),
];
const POD_SPEC: &[Field] = &[
    (2, "containers", Kind::RepMsg(CONTAINER)),
    (3, "restartPolicy", Kind::Str),
    (4, "terminationGracePeriodSeconds", Kind::OptInt),
    (5, "activeDeadlineSeconds", Kind::OptInt),
    (6, "dnsPolicy", Kind::Str),
    (7, "nodeSelector", Kind::MapStr),
    (8, "serviceAccountName", Kind::Str),
    (9, "serviceAccount", Kind::Str),
    (10, "nodeName", Kind::Str),
    (11, "hostNetwork", Kind::Bool),
    (12, "hostPID", Kind::Bool),
    (13, "hostIPC", Kind::Bool),
    (16, "hostname", Kind::Str),
    (17, "subdomain", Kind::Str),
    (19, "schedulerName", Kind::Str),
    (20, "initContainers", Kind::RepMsg(CONTAINER)),
    (21, "automountServiceAccountToken", Kind::OptBool),
    (24, "priorityClassName", Kind::Str),
];
const POD_TEMPLATE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(POD_SPEC)),
];
const ROLLING_UPDATE: &[Field] = &[
    (1, "maxUnavailable", Kind::IntOrString),
    (2, "maxSurge", Kind::IntOrString),
];
const STRATEGY: &[Field] = &[
    (1, "type", Kind::Str),
    (2, "rollingUpdate", Kind::Msg(ROLLING_UPDATE)),
];
const DEPLOYMENT_SPEC: &[Field] = &[
    (1, "replicas", Kind::OptInt),
    (2, "selector", Kind::Msg(LABEL_SELECTOR)),
    (3, "template", Kind::Msg(POD_TEMPLATE)),
    (4, "strategy", Kind::Msg(STRATEGY)),
    (5, "minReadySeconds", Kind::Int),
    (6, "revisionHistoryLimit", Kind::OptInt),
    (7, "paused", Kind::Bool),
    (9, "progressDeadlineSeconds", Kind::OptInt),
];
const DEPLOYMENT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(DEPLOYMENT_SPEC)),
    (3, "status", Kind::Skip),
];
const SERVICE_PORT: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "protocol", Kind::Str),
    (3, "port", Kind::Int),
    (4, "targetPort", Kind::IntOrString),
    (5, "nodePort", Kind::Int),
    (6, "appProtocol", Kind::Str),
];
const SERVICE_SPEC: &[Field] = &[
    (1, "ports", Kind::RepMsg(SERVICE_PORT)),
    (2, "selector", Kind::MapStr),
    (3, "clusterIP", Kind::Str),
    (4, "type", Kind::Str),
    (5, "externalIPs", Kind::RepStr),
    (7, "sessionAffinity", Kind::Str),
    (8, "loadBalancerIP", Kind::Str),
    (10, "externalName", Kind::Str),
    (11, "externalTrafficPolicy", Kind::Str),
    (12, "healthCheckNodePort", Kind::Int),
    (13, "publishNotReadyAddresses", Kind::Bool),
    (18, "clusterIPs", Kind::RepStr),
    (19, "ipFamilies", Kind::RepStr),
    (17, "ipFamilyPolicy", Kind::Str),
    (20, "allocateLoadBalancerNodePorts", Kind::OptBool),
    (22, "internalTrafficPolicy", Kind::Str),
];
const SERVICE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(SERVICE_SPEC)),
    (3, "status", Kind::Skip),
];
const PRECONDITIONS: &[Field] = &[(1, "uid", Kind::Str), (2, "resourceVersion", Kind::Str)];
const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Kind::OptInt),
    (2, "preconditions", Kind::Msg(PRECONDITIONS)),
    (3, "orphanDependents", Kind::OptBool),
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

fn time(b: &[u8]) -> Result<Option<Value>> {
    let mut secs = 0i64;
    for (n, w) in fields(b)? {
        if let (1, Wire::Varint(v)) = (n, w) {
            secs = v as i64;
        }
    }
    if secs == 0 {
        return Ok(None);
    }
    let t = k8s_openapi::jiff::Timestamp::from_second(secs)
        .map_err(|_| Error::Malformed("time out of range"))?;
    Ok(Some(json!(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())))
}

fn int_or_string(b: &[u8]) -> Result<Value> {
    let (mut ty, mut int, mut s) = (0, 0i64, String::new());
    for (n, w) in fields(b)? {
        match (n, &w) {
            (1, Wire::Varint(v)) => ty = *v,
            (2, Wire::Varint(v)) => int = *v as i32 as i64,
            (3, _) => s = text(bytes_of(&w)?)?,
            _ => {}
        }
    }
    Ok(if ty == 1 { json!(s) } else { json!(int) })
}

fn quantity_entry(b: &[u8]) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = String::new();
    for (n, w) in fields(b)? {
        match n {
            1 => key = text(bytes_of(&w)?)?,
            2 => {
                for (qn, qw) in fields(bytes_of(&w)?)? {
                    if qn == 1 {
                        value = text(bytes_of(&qw)?)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((key, json!(value)))
}

fn message(b: &[u8], schema: &[Field], path: &str) -> Result<Value> {
    let mut out = Map::new();
    for (n, w) in fields(b)? {
        let Some((_, name, kind)) = schema.iter().find(|(f, _, _)| *f == n) else {
            return Err(Error::FieldUnsupported {
                message: path.into(),
                field: n,
            });
        };
        let name = name.to_string();
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        match (kind, &w) {
            (Kind::Skip, _) => {}
            (Kind::IntOrString, _) => {
                out.insert(name, int_or_string(bytes_of(&w)?)?);
            }
            (Kind::MapQuantity, _) => {
                let (k, v) = quantity_entry(bytes_of(&w)?)?;
                if let Value::Object(m) = out.entry(name).or_insert_with(|| json!({})) {
                    m.insert(k, v);
                }
            }
            (Kind::Bool | Kind::OptBool, Wire::Varint(v)) => {
                if *v != 0 || matches!(kind, Kind::OptBool) {
                    out.insert(name, json!(*v != 0));
                }
            }
            (Kind::Int | Kind::OptInt, Wire::Varint(v)) => {
                let n = *v as i64;
                let n = if n > i64::from(i32::MAX) || n < i64::from(i32::MIN) {
                    n
                } else {
                    n as i32 as i64
                };
                if n != 0 || matches!(kind, Kind::OptInt) {
                    out.insert(name, json!(n));
                }
            }
            (Kind::Str, _) => {
                let t = text(bytes_of(&w)?)?;
                if !t.is_empty() {
                    out.insert(name, json!(t));
                }
            }
            (Kind::Time, _) => {
                if let Some(t) = time(bytes_of(&w)?)? {
                    out.insert(name, t);
                }
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
                out.insert(name, message(bytes_of(&w)?, inner, &here)?);
            }
            (Kind::RepMsg(inner), _) => {
                let m = message(bytes_of(&w)?, inner, &here)?;
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
// k8s.io/api authorization/v1 and authentication/v1 generated.proto: the reviews kubectl's
// `auth can-i` and `auth whoami` post.
const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Kind::Str),
    (2, "verb", Kind::Str),
    (3, "group", Kind::Str),
    (4, "version", Kind::Str),
    (5, "resource", Kind::Str),
    (6, "subresource", Kind::Str),
    (7, "name", Kind::Str),
];
const NON_RESOURCE_ATTRIBUTES: &[Field] = &[(1, "path", Kind::Str), (2, "verb", Kind::Str)];
const ACCESS_REVIEW_SPEC: &[Field] = &[
    (1, "resourceAttributes", Kind::Msg(RESOURCE_ATTRIBUTES)),
    (
        2,
        "nonResourceAttributes",
        Kind::Msg(NON_RESOURCE_ATTRIBUTES),
    ),
];
const ACCESS_REVIEW: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(ACCESS_REVIEW_SPEC)),
    (3, "status", Kind::Skip),
];
const RULES_REVIEW_SPEC: &[Field] = &[(1, "namespace", Kind::Str)];
const RULES_REVIEW: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(RULES_REVIEW_SPEC)),
    (3, "status", Kind::Skip),
];
const SELF_REVIEW: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "status", Kind::Skip),
];

pub(crate) fn decode(body: &[u8]) -> Result<Value> {
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
        ("v1", "Service") => SERVICE,
        ("apps/v1", "Deployment") => DEPLOYMENT,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => RULES_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => SELF_REVIEW,
        _ => return Err(Error::KindUnsupported(kind)),
    };
    let mut obj = message(raw, schema, "")?;
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
        let type_meta = [field(1, b"batch/v1"), field(2, b"Job")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta)].concat();
        assert_eq!(decode(&body), Err(Error::KindUnsupported("Job".into())));
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [
            b"k8s\0".to_vec(),
            field(1, &type_meta),
            field(2, &field(9, b"x")),
        ]
        .concat();
        assert_eq!(
            decode(&body),
            Err(Error::FieldUnsupported {
                message: String::new(),
                field: 9
            })
        );
    }
}
