#!/usr/bin/env python3
"""Generates k8s-types.json, the list/map semantics and field types of the built-in Kubernetes
API kinds that the sandbox needs, from the OpenAPI definitions shipped in the PyPI package
kubernetes-validate (Apache-2.0). See README.md beside this file.

Usage:
    pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-*.whl
    python3 gen_types.py kubernetes_validate/kubernetes-json-schema/v1.34.0-local/_definitions.json > k8s-types.json

Output: {"source": ..., "kinds": {"<group/version or version>/<Kind>": "<type>"},
         "types": {"<type>": <struct>}}, one type per line.
A struct is {"f": {field: <expr>}, "a": 1 if atomic (+structType=atomic), "d": {field: default},
"q": [required fields]}.
An <expr> is a scalar ("string", "integer", "int32", "int64", "number", "boolean",
"int-or-string", "quantity", "any"), "@<type>" (a struct), {"r": "<type>", "a": 1} (a struct used
atomically), {"m": <expr>, "a": 1?} (a map; "a" if x-kubernetes-map-type is atomic) or
{"l": <expr>, "t": "atomic"|"set"|"map", "k": [keys], "pk": patch merge key, "ps": patch strategy}.
"""

import json
import sys

# Defaults of list-map key fields that the swagger-derived definitions lack but the API server's
# OpenAPI v3 declares (k8s.io/api core/v1 types.go: `// +default="TCP"` on ContainerPort.Protocol
# and ServicePort.Protocol); structured-merge-diff uses them to identify items that omit the key.
KEY_DEFAULTS = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}

SCALARS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
}


def short(name):
    for prefix in (
        "io.k8s.api.",
        "io.k8s.apimachinery.pkg.apis.",
        "io.k8s.apimachinery.pkg.",
        "io.k8s.apiextensions-apiserver.pkg.apis.",
        "io.k8s.kube-aggregator.pkg.apis.",
    ):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def ref_name(s):
    return s["$ref"].split("/")[-1]


def types_of(s):
    t = s.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    return [t] if t else []


def is_struct(defs, name):
    d = defs.get(name, {})
    return name not in SCALARS and "properties" in d


def expr(defs, s):
    if "$ref" in s:
        name = ref_name(s)
        if name in SCALARS:
            return SCALARS[name]
        if not is_struct(defs, name):
            d = defs.get(name, {})
            if types_of(d) and types_of(d)[0] not in ("object", "array"):
                return scalar(d)
            return "any"
        if s.get("x-kubernetes-map-type") == "atomic":
            return {"r": short(name), "a": 1}
        return "@" + short(name)
    if s.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    ts = types_of(s)
    if not ts:
        return "any"
    t = ts[0]
    if t == "array":
        out = {"l": expr(defs, s.get("items", {}))}
        lt = s.get("x-kubernetes-list-type")
        ps = s.get("x-kubernetes-patch-strategy")
        pk = s.get("x-kubernetes-patch-merge-key")
        if lt is None:
            # kube-openapi schemaconv: without a list type, a "merge" patch strategy makes the
            # list associative (keyed by the merge key, or a set), anything else atomic.
            if ps and "merge" in ps.split(","):
                lt = "map" if pk else "set"
                keys = [pk] if pk else []
            else:
                lt = "atomic"
                keys = []
        else:
            keys = s.get("x-kubernetes-list-map-keys", []) if lt == "map" else []
        out["t"] = lt
        if keys:
            out["k"] = keys
        if pk:
            out["pk"] = pk
        if ps:
            out["ps"] = ps
        return out
    if t == "object":
        if "additionalProperties" in s and isinstance(s["additionalProperties"], dict):
            out = {"m": expr(defs, s["additionalProperties"])}
            if s.get("x-kubernetes-map-type") == "atomic":
                out["a"] = 1
            return out
        return "any"
    return scalar(s)


def scalar(s):
    t = types_of(s)[0]
    if t == "integer":
        return s.get("format") if s.get("format") in ("int32", "int64") else "integer"
    if t in ("string", "number", "boolean"):
        return t
    return "any"


def main():
    path = sys.argv[1]
    defs = json.load(open(path))["$defs"]
    kinds = {}
    types = {}
    for name, d in sorted(defs.items()):
        if not is_struct(defs, name):
            continue
        st = {"f": {k: expr(defs, v) for k, v in sorted(d["properties"].items())}}
        if d.get("x-kubernetes-map-type") == "atomic":
            st["a"] = 1
        if name in KEY_DEFAULTS:
            st["d"] = KEY_DEFAULTS[name]
        required = sorted(f for f in d.get("required", []) if f in d["properties"])
        if required:
            st["q"] = required
        assert short(name) not in types, f"two definitions shorten to {short(name)}"
        types[short(name)] = st
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            gv = gvk["version"] if not gvk["group"] else f'{gvk["group"]}/{gvk["version"]}'
            key = f'{gv}/{gvk["kind"]}'
            # List kinds and meta types (DeleteOptions, WatchEvent…) share GVKs across groups;
            # keep the type whose own group is the GVK's.
            if "apiVersion" in d.get("properties", {}) and key not in kinds:
                kinds[key] = short(name)
    out = sys.stdout
    out.write("{\n")
    out.write('"source": {"package": "kubernetes-validate", "version": "1.37.0", "license": "Apache-2.0", '
              '"file": "kubernetes_validate/kubernetes-json-schema/v1.34.0-local/_definitions.json"},\n')
    out.write('"kinds": ' + json.dumps(kinds, separators=(",", ":"), sort_keys=True) + ",\n")
    out.write('"types": {\n')
    items = sorted(types.items())
    for i, (k, v) in enumerate(items):
        sep = "," if i + 1 < len(items) else ""
        out.write(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"), sort_keys=True) + sep + "\n")
    out.write("}}\n")


if __name__ == "__main__":
    main()
