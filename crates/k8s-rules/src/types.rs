//! The shapes of API objects: field types, required fields and list/map semantics of the
//! built-in kinds (from the Kubernetes OpenAPI definitions, generated into `data/k8s-types.json`,
//! see `data/README.md`) and of custom resources (their CRD's structural schema), as
//! structured-merge-diff, strategic merge patch, the decoders and lint read them.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The generated definitions (Kubernetes 1.34, from the PyPI package kubernetes-validate).
const DATA: &str = include_str!("../data/k8s-types.json");

/// A scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// A string (also dates, byte strings).
    String,
    /// An integer without a declared width.
    Integer,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// A floating-point number.
    Number,
    /// A boolean.
    Boolean,
    /// `IntOrString`: an integer or a string.
    IntOrString,
    /// `resource.Quantity`: a string or a number.
    Quantity,
}

/// How a list's items relate (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// Replaced and owned as a whole.
    Atomic,
    /// A set of scalars, items identified by their value.
    Set,
    /// A map of items identified by their key fields.
    Map,
}

/// A built-in field type.
#[derive(Debug)]
pub enum Ty {
    /// A scalar.
    Scalar(Scalar),
    /// Anything (`RawExtension`, `JSON`, …): maps granular, lists atomic.
    Any,
    /// A struct (index into the struct table); `atomic` for `+structType=atomic`.
    Struct {
        /// The struct.
        id: usize,
        /// Owned and replaced as a whole.
        atomic: bool,
    },
    /// A map with values of one type.
    Map {
        /// The values' type.
        elem: Box<Ty>,
        /// `x-kubernetes-map-type: atomic`.
        atomic: bool,
    },
    /// A list.
    List(Box<ListTy>),
}

/// A built-in list type.
#[derive(Debug)]
pub struct ListTy {
    /// The items' type.
    pub elem: Ty,
    /// How items relate.
    pub rel: Rel,
    /// The key fields of a map list.
    pub keys: Vec<String>,
    /// `x-kubernetes-patch-merge-key`.
    pub patch_key: Option<String>,
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`, `replace`).
    pub patch_strategy: Option<String>,
}

/// A built-in struct.
#[derive(Debug)]
pub struct StructTy {
    /// Its definition name, e.g. `apps.v1.DeploymentSpec`.
    pub name: String,
    /// Its fields.
    pub fields: HashMap<String, Ty>,
    /// Defaults of fields that are list-map keys (`protocol: TCP`).
    pub defaults: Map<String, Value>,
    /// The fields the definitions mark required, in name order.
    pub required: Vec<String>,
}

/// All built-in definitions.
#[derive(Debug)]
pub struct Types {
    structs: Vec<StructTy>,
    roots: Vec<Ty>,
    kinds: HashMap<String, usize>,
    string: Ty,
    object_meta: usize,
}

/// Struct names to (index, whether the struct itself is atomic).
type Ids = HashMap<String, (usize, bool)>;

fn parse_expr(e: &Value, ids: &Ids) -> Ty {
    match e {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix('@') {
                return ids.get(name).map_or(Ty::Any, |(id, atomic)| Ty::Struct {
                    id: *id,
                    atomic: *atomic,
                });
            }
            match s.as_str() {
                "string" => Ty::Scalar(Scalar::String),
                "integer" => Ty::Scalar(Scalar::Integer),
                "int32" => Ty::Scalar(Scalar::Int32),
                "int64" => Ty::Scalar(Scalar::Int64),
                "number" => Ty::Scalar(Scalar::Number),
                "boolean" => Ty::Scalar(Scalar::Boolean),
                "int-or-string" => Ty::Scalar(Scalar::IntOrString),
                "quantity" => Ty::Scalar(Scalar::Quantity),
                _ => Ty::Any,
            }
        }
        Value::Object(o) => {
            let atomic = o.get("a").is_some();
            if let Some(r) = o.get("r").and_then(Value::as_str) {
                return ids.get(r).map_or(Ty::Any, |(id, a)| Ty::Struct {
                    id: *id,
                    atomic: atomic || *a,
                });
            }
            if let Some(m) = o.get("m") {
                return Ty::Map {
                    elem: Box::new(parse_expr(m, ids)),
                    atomic,
                };
            }
            if let Some(l) = o.get("l") {
                let rel = match o.get("t").and_then(Value::as_str) {
                    Some("set") => Rel::Set,
                    Some("map") => Rel::Map,
                    _ => Rel::Atomic,
                };
                let strings = |k: &str| -> Vec<String> {
                    o.get(k)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                return Ty::List(Box::new(ListTy {
                    elem: parse_expr(l, ids),
                    rel,
                    keys: strings("k"),
                    patch_key: o.get("pk").and_then(Value::as_str).map(String::from),
                    patch_strategy: o.get("ps").and_then(Value::as_str).map(String::from),
                }));
            }
            Ty::Any
        }
        _ => Ty::Any,
    }
}

fn load() -> Types {
    let doc: Value = serde_json::from_str(DATA).unwrap_or_default();
    let empty = Map::new();
    let defs = doc["types"].as_object().unwrap_or(&empty);
    let ids: Ids = defs
        .iter()
        .enumerate()
        .map(|(i, (k, d))| (k.clone(), (i, d.get("a").is_some())))
        .collect();
    let structs: Vec<StructTy> = defs
        .iter()
        .map(|(name, d)| StructTy {
            name: name.clone(),
            fields: d["f"]
                .as_object()
                .map(|f| {
                    f.iter()
                        .map(|(k, e)| (k.clone(), parse_expr(e, &ids)))
                        .collect()
                })
                .unwrap_or_default(),
            defaults: d["d"].as_object().cloned().unwrap_or_default(),
            required: d["q"]
                .as_array()
                .map(|q| {
                    q.iter()
                        .filter_map(|f| f.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let roots = defs
        .values()
        .enumerate()
        .map(|(id, d)| Ty::Struct {
            id,
            atomic: d.get("a").is_some(),
        })
        .collect();
    let kinds = doc["kinds"]
        .as_object()
        .map(|k| {
            k.iter()
                .filter_map(|(gvk, t)| Some((gvk.clone(), ids.get(t.as_str()?)?.0)))
                .collect()
        })
        .unwrap_or_default();
    Types {
        object_meta: ids.get("meta.v1.ObjectMeta").map_or(0, |(id, _)| *id),
        structs,
        roots,
        kinds,
        string: Ty::Scalar(Scalar::String),
    }
}

/// The built-in definitions (parsed once per process).
pub fn types() -> &'static Types {
    static TYPES: OnceLock<Types> = OnceLock::new();
    TYPES.get_or_init(load)
}

impl Types {
    /// The struct behind an id.
    pub fn get(&self, id: usize) -> &StructTy {
        &self.structs[id]
    }

    /// The root type of a built-in kind, by `apiVersion` and `kind`.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<&Ty> {
        let mut key = String::with_capacity(api_version.len() + 1 + kind.len());
        key.push_str(api_version);
        key.push('/');
        key.push_str(kind);
        self.kinds.get(&key).map(|id| &self.roots[*id])
    }
}

/// Where in the type definitions a value sits: the cursor the typed walks carry.
#[derive(Debug, Clone, Copy)]
pub enum Schema<'a> {
    /// A built-in type.
    Builtin(&'a Ty),
    /// A node of a CRD's structural schema.
    Crd(&'a Value),
    /// The root of a custom resource: `apiVersion`, `kind` and `metadata` as every object has
    /// them, the rest from the CRD's schema.
    CrdRoot(&'a Value),
    /// No schema (`x-kubernetes-preserve-unknown-fields`, `RawExtension`): any value; maps are
    /// granular, lists atomic (structured-merge-diff's "deduced" type).
    Deduced,
}

/// A field looked up in an object's schema.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A declared struct field.
    Named(Schema<'a>),
    /// A map entry (or a field of an object that keeps unknown fields).
    Elem(Schema<'a>),
    /// Not declared: pruned or refused.
    Unknown,
}

impl<'a> Field<'a> {
    /// The field's schema (deduced if unknown).
    pub fn schema(self) -> Schema<'a> {
        match self {
            Field::Named(s) | Field::Elem(s) => s,
            Field::Unknown => Schema::Deduced,
        }
    }

    /// Whether the field is a declared struct field.
    pub fn is_named(self) -> bool {
        matches!(self, Field::Named(_))
    }
}

/// The kind of value a schema expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A scalar of this type.
    Scalar(Scalar),
    /// An object (struct or map).
    Object,
    /// A list.
    List,
    /// Anything.
    Any,
}

/// A list's patch semantics for strategic merge patch.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchInfo<'a> {
    /// Items are merged (`patchStrategy: merge`), not replaced.
    pub merge: bool,
    /// The merge key of a list of objects.
    pub key: Option<&'a str>,
}

fn builtin(ty: &Ty) -> Schema<'_> {
    match ty {
        Ty::Any => Schema::Deduced,
        t => Schema::Builtin(t),
    }
}

impl<'a> Schema<'a> {
    /// The schema of a built-in kind, or of a custom resource with `crd_schema`, or deduced.
    pub fn for_kind(
        api_version: &str,
        kind: &str,
        custom: bool,
        crd_schema: Option<&'a Value>,
    ) -> Schema<'a> {
        if custom {
            return crd_schema.map_or(Schema::Deduced, Schema::CrdRoot);
        }
        types()
            .kind(api_version, kind)
            .map_or(Schema::Deduced, builtin)
    }

    /// What kind of value is expected here.
    pub fn expect(self) -> Expect {
        match self {
            Schema::Builtin(Ty::Scalar(s)) => Expect::Scalar(*s),
            Schema::Builtin(Ty::Struct { .. } | Ty::Map { .. }) | Schema::CrdRoot(_) => {
                Expect::Object
            }
            Schema::Builtin(Ty::List(_)) => Expect::List,
            Schema::Builtin(Ty::Any) | Schema::Deduced => Expect::Any,
            Schema::Crd(s) => {
                if s["x-kubernetes-int-or-string"].as_bool() == Some(true) {
                    return Expect::Scalar(Scalar::IntOrString);
                }
                match s["type"].as_str() {
                    Some("object") => Expect::Object,
                    Some("array") => Expect::List,
                    Some("string") => Expect::Scalar(Scalar::String),
                    Some("integer") => Expect::Scalar(Scalar::Integer),
                    Some("number") => Expect::Scalar(Scalar::Number),
                    Some("boolean") => Expect::Scalar(Scalar::Boolean),
                    _ => Expect::Any,
                }
            }
        }
    }

    /// Whether an object or list here is owned and replaced as a whole.
    pub fn atomic(self, value: &Value) -> bool {
        match (self, value) {
            (Schema::Builtin(Ty::Struct { atomic, .. } | Ty::Map { atomic, .. }), _) => *atomic,
            (Schema::Builtin(Ty::List(l)), _) => l.rel == Rel::Atomic,
            (Schema::Crd(s), Value::Object(_)) => {
                s["x-kubernetes-map-type"].as_str() == Some("atomic")
            }
            (Schema::Crd(s), Value::Array(_)) => {
                !matches!(s["x-kubernetes-list-type"].as_str(), Some("set" | "map"))
            }
            (Schema::Deduced | Schema::Builtin(Ty::Any), Value::Array(_)) => true,
            _ => false,
        }
    }

    /// Whether this is an object with declared fields (a struct, not a map).
    pub fn is_struct(self) -> bool {
        match self {
            Schema::Builtin(Ty::Struct { .. }) | Schema::CrdRoot(_) => true,
            Schema::Crd(s) => s["properties"].is_object(),
            _ => false,
        }
    }

    /// The fields an object here must set: a built-in struct's required fields, or a CRD
    /// schema node's `required`.
    pub fn required(self) -> Vec<&'a str> {
        match self {
            Schema::Builtin(Ty::Struct { id, .. }) => types()
                .get(*id)
                .required
                .iter()
                .map(String::as_str)
                .collect(),
            Schema::Crd(s) | Schema::CrdRoot(s) => s["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The declared field names of a struct (sorted), for suggestions; none for other types.
    pub fn field_names(self) -> Vec<&'a str> {
        let mut names: Vec<&str> = match self {
            Schema::Builtin(Ty::Struct { id, .. }) => {
                types().get(*id).fields.keys().map(String::as_str).collect()
            }
            Schema::Crd(s) | Schema::CrdRoot(s) => s["properties"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if matches!(self, Schema::CrdRoot(_)) {
            names.extend(["apiVersion", "kind", "metadata"]);
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Looks up a field of an object.
    pub fn field(self, name: &str) -> Field<'a> {
        match self {
            Schema::Builtin(Ty::Struct { id, .. }) => types()
                .get(*id)
                .fields
                .get(name)
                .map_or(Field::Unknown, |t| Field::Named(builtin(t))),
            Schema::Builtin(Ty::Map { elem, .. }) => Field::Elem(builtin(elem)),
            Schema::Builtin(Ty::Scalar(_) | Ty::List(_)) => Field::Unknown,
            Schema::Builtin(Ty::Any) | Schema::Deduced => Field::Elem(Schema::Deduced),
            Schema::CrdRoot(s) => match name {
                "apiVersion" | "kind" => Field::Named(Schema::Builtin(&types().string)),
                "metadata" => Field::Named(Schema::Builtin(&types().roots[types().object_meta])),
                _ => Schema::Crd(s).field(name),
            },
            Schema::Crd(s) => {
                if let Some(p) = s["properties"].get(name) {
                    return Field::Named(Schema::Crd(p));
                }
                match s.get("additionalProperties") {
                    Some(ap @ Value::Object(_)) => return Field::Elem(Schema::Crd(ap)),
                    Some(Value::Bool(true)) => return Field::Elem(Schema::Deduced),
                    _ => {}
                }
                if s["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true)
                    || (s["x-kubernetes-embedded-resource"].as_bool() == Some(true)
                        && matches!(name, "apiVersion" | "kind" | "metadata"))
                {
                    return Field::Elem(Schema::Deduced);
                }
                Field::Unknown
            }
        }
    }

    /// The schema of a list's items.
    pub fn items(self) -> Schema<'a> {
        match self {
            Schema::Builtin(Ty::List(l)) => builtin(&l.elem),
            Schema::Crd(s) => match s.get("items") {
                Some(i @ Value::Object(_)) => Schema::Crd(i),
                _ => Schema::Deduced,
            },
            _ => Schema::Deduced,
        }
    }

    /// How a list's items relate, and the key fields of a map list.
    pub fn list(self) -> (Rel, Vec<&'a str>) {
        match self {
            Schema::Builtin(Ty::List(l)) => (l.rel, l.keys.iter().map(String::as_str).collect()),
            Schema::Crd(s) => match s["x-kubernetes-list-type"].as_str() {
                Some("set") => (Rel::Set, vec![]),
                Some("map") => (
                    Rel::Map,
                    s["x-kubernetes-list-map-keys"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default(),
                ),
                _ => (Rel::Atomic, vec![]),
            },
            _ => (Rel::Atomic, vec![]),
        }
    }

    /// The default of a field of this (item) type, used for list-map keys an item omits.
    pub fn default_of(self, field: &str) -> Option<Value> {
        match self {
            Schema::Builtin(Ty::Struct { id, .. }) => types().get(*id).defaults.get(field).cloned(),
            Schema::Crd(s) => s["properties"][field].get("default").cloned(),
            _ => None,
        }
    }

    /// Strategic merge patch semantics of a list.
    pub fn patch(self) -> PatchInfo<'a> {
        match self {
            Schema::Builtin(Ty::List(l)) => PatchInfo {
                merge: l
                    .patch_strategy
                    .as_deref()
                    .is_some_and(|s| s.split(',').any(|p| p == "merge")),
                key: l.patch_key.as_deref(),
            },
            _ => PatchInfo::default(),
        }
    }

    /// The Go type of a field, for decoding errors (`int32`, `v1.PodSpec`, `[]v1.Container`).
    pub fn go_type(self) -> String {
        match self {
            Schema::Builtin(Ty::Scalar(s)) => match s {
                Scalar::String => "string".into(),
                Scalar::Integer | Scalar::Int64 => "int64".into(),
                Scalar::Int32 => "int32".into(),
                Scalar::Number => "float64".into(),
                Scalar::Boolean => "bool".into(),
                Scalar::IntOrString => "intstr.IntOrString".into(),
                Scalar::Quantity => "resource.Quantity".into(),
            },
            Schema::Builtin(Ty::Struct { id, .. }) => {
                let name = &types().get(*id).name;
                let mut parts = name.rsplit('.');
                let ty = parts.next().unwrap_or_default();
                let pkg = parts.next().unwrap_or_default();
                format!("{pkg}.{ty}")
            }
            Schema::Builtin(Ty::Map { elem, .. }) => {
                format!("map[string]{}", builtin(elem).go_type())
            }
            Schema::Builtin(Ty::List(l)) => format!("[]{}", builtin(&l.elem).go_type()),
            _ => "interface {}".into(),
        }
    }

    /// The Go name of a struct (`DeploymentSpec`), for decoding errors.
    pub fn struct_name(self) -> &'a str {
        match self {
            Schema::Builtin(Ty::Struct { id, .. }) => {
                types().get(*id).name.rsplit('.').next().unwrap_or_default()
            }
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_list_semantics_come_from_the_definitions() {
        // k8s.io/api core/v1: containers are `+listType=map +listMapKey=name`, container ports
        // are keyed by (containerPort, protocol), finalizers are a set, args atomic.
        let deploy = Schema::for_kind("apps/v1", "Deployment", false, None);
        let pod = deploy
            .field("spec")
            .schema()
            .field("template")
            .schema()
            .field("spec")
            .schema();
        let containers = pod.field("containers").schema();
        assert_eq!(containers.list(), (Rel::Map, vec!["name"]));
        let c = containers.items();
        assert_eq!(
            c.field("ports").schema().list(),
            (Rel::Map, vec!["containerPort", "protocol"])
        );
        assert_eq!(
            c.field("ports").schema().items().default_of("protocol"),
            Some(json!("TCP"))
        );
        assert_eq!(c.field("args").schema().list().0, Rel::Atomic);
        let meta = deploy.field("metadata").schema();
        assert_eq!(meta.field("finalizers").schema().list().0, Rel::Set);
        assert_eq!(
            meta.field("ownerReferences").schema().list(),
            (Rel::Map, vec!["uid"])
        );
        assert!(matches!(meta.field("labels"), Field::Named(_)));
        assert!(matches!(
            meta.field("labels").schema().field("app"),
            Field::Elem(_)
        ));
        assert!(matches!(
            deploy.field("spec").schema().field("replica"),
            Field::Unknown
        ));
        // metav1.LabelSelector is `+structType=atomic`.
        assert!(
            deploy
                .field("spec")
                .schema()
                .field("selector")
                .schema()
                .atomic(&json!({}))
        );
        assert_eq!(pod.field("volumes").schema().patch().key, Some("name"));
    }

    #[test]
    fn crd_lists_are_atomic_unless_declared() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "array", "items": {"type": "string"}},
            "b": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
        let root = Schema::for_kind("example.com/v1", "X", true, Some(&schema));
        let spec = root.field("spec").schema();
        assert!(spec.field("a").schema().atomic(&json!([])));
        assert_eq!(spec.field("b").schema().list(), (Rel::Map, vec!["name"]));
        assert!(matches!(spec.field("zzz"), Field::Unknown));
        assert!(matches!(
            spec.field("c").schema().field("any"),
            Field::Elem(_)
        ));
        assert!(matches!(
            root.field("metadata").schema().field("labels"),
            Field::Named(_)
        ));
    }
}
