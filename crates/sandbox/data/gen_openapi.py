#!/usr/bin/env python3
"""Generates openapi-definitions.json.gz, the OpenAPI v2 `definitions` of every built-in
Kubernetes type (descriptions, types, formats, enums, required fields and the x-kubernetes-*
extensions), which the sandbox serves at /openapi/v2 and, converted, at /openapi/v3 so that
`kubectl explain` works. Source: the JSON Schema definitions shipped in the PyPI package
kubernetes-validate (Apache-2.0), turned back into the OpenAPI form kube-apiserver serves.
See README.md beside this file.

Usage:
    pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-*.whl
    python3 gen_openapi.py kubernetes_validate/kubernetes-json-schema/v1.34.0-local/_definitions.json openapi-definitions.json.gz

The package's schemas differ from kube-apiserver's OpenAPI in three ways, undone here:
- optional values are typed `["x", "null"]`: the API server's documents say `"x"`;
- `apiVersion` and `kind` carry an `enum` of the one valid value: the API server's do not;
- IntOrString and Quantity are `oneOf` string/number: the API server's documents say
  `{"type": "string", "format": "int-or-string"}` and `{"type": "string"}`.
References become `#/definitions/<name>`.
"""

import gzip
import hashlib
import json
import sys

SCALARS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def convert(node, parent_key=None):
    if isinstance(node, list):
        return [convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "$ref":
            out[k] = v.replace("#/$defs/", "#/definitions/")
        elif k == "type" and isinstance(v, list):
            kinds = [t for t in v if t != "null"]
            out[k] = kinds[0] if len(kinds) == 1 else kinds
        elif k == "properties":
            out[k] = {name: convert(p, name) for name, p in v.items()}
        else:
            out[k] = convert(v)
    if parent_key in ("apiVersion", "kind") and len(out.get("enum", [])) == 1:
        del out["enum"]
    return out


def main():
    src, dest = sys.argv[1], sys.argv[2]
    raw = open(src, "rb").read()
    defs = json.loads(raw)["$defs"]
    out = {}
    for name, schema in sorted(defs.items()):
        schema = convert(schema)
        if name in SCALARS:
            schema = {**SCALARS[name], **({"description": schema["description"]} if "description" in schema else {})}
        out[name] = schema
    doc = {
        "source": "kubernetes-validate 1.37.0 (PyPI), " + src.split("kubernetes_validate/")[-1]
        + " sha256 " + hashlib.sha256(raw).hexdigest(),
        "definitions": out,
    }
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    with open(dest, "wb") as f:
        # mtime 0: the same input gives the same bytes
        with gzip.GzipFile(filename="", fileobj=f, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(data)


if __name__ == "__main__":
    main()
