//! Keyword tables: JSON Schema types, the formats Kubernetes knows, the keywords a CRD accepts.

/// The JSON types a structural schema can name.
pub(crate) const TYPES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];

/// Formats the API server validates (apiextensions-apiserver's supported formats plus
/// the numeric ones controller-gen emits); others are dropped.
const FORMATS: [&str; 29] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
    "int32",
    "int64",
    "float",
    "double",
];

/// Whether Kubernetes knows this `format`.
pub(crate) fn known_format(format: &str) -> bool {
    FORMATS.contains(&format)
}

/// Whether the API server (Go's RE2) can compile an ECMA-262 `pattern`: no
/// lookaround, backreferences, atomic groups or `\u` escapes. Conservative: a pattern
/// that merely mentions these in a character class is dropped too.
pub(crate) fn re2_compatible(pattern: &str) -> bool {
    let unsupported = ["(?=", "(?!", "(?<=", "(?<!", "(?>", "\\k<", "\\u"];
    let backreference = pattern
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'\\' && (b'1'..=b'9').contains(&w[1]));
    !backreference && !unsupported.iter().any(|u| pattern.contains(u))
}

/// Every key of JSONSchemaProps that a v1 CRD schema may carry.
pub(crate) const CRD_KEYS: [&str; 37] = [
    "type",
    "format",
    "title",
    "description",
    "default",
    "example",
    "externalDocs",
    "nullable",
    "enum",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "multipleOf",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "properties",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// `x-kubernetes-*` extensions an author may write in values.schema.json; passed through.
pub(crate) const PASSTHROUGH_EXTENSIONS: [&str; 5] = [
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// Keywords that only make sense for objects (a typeless node using them is an object).
pub(crate) const OBJECT_KEYWORDS: [&str; 9] = [
    "properties",
    "additionalProperties",
    "patternProperties",
    "required",
    "minProperties",
    "maxProperties",
    "propertyNames",
    "dependentRequired",
    "unevaluatedProperties",
];

/// Keywords that only make sense for arrays (a typeless node using them is an array).
pub(crate) const ARRAY_KEYWORDS: [&str; 8] = [
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
];

/// Keywords that only constrain scalars: a node using them without a type cannot be
/// made structural without guessing.
pub(crate) const SCALAR_KEYWORDS: [&str; 9] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
];
