"""Probe: kopf (a third-party operator framework) runs its own operator against the sandbox.

Expected, per the kopf documentation (https://kopf.readthedocs.io/en/stable/handlers/,
.../results/, .../hierarchies/, and https://kopf.readthedocs.io/en/stable/walkthrough/deletion/):
a created resource is handled once, the handler's child carries an owner reference to it, the
result is stored in status.<handler id>; kopf's finalizer holds the resource on deletion until
kopf releases it, after which Kubernetes garbage collection removes the child
(https://kubernetes.io/docs/concepts/architecture/garbage-collection/).
Run: python kopf_probe.py KUBECONFIG.
"""

import os
import subprocess
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "greetings.probes.tera-operator.io"},
    "spec": {
        "group": "probes.tera-operator.io",
        "scope": "Namespaced",
        "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"who": {"type": "string"}}},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}


def until(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def gone(read):
    try:
        read()
        return False
    except ApiException as e:
        return e.status == 404


def main():
    kubeconfig = sys.argv[1]
    config.load_kube_config(config_file=kubeconfig)
    client.ApiextensionsV1Api().create_custom_resource_definition(CRD)
    custom = client.CustomObjectsApi()
    core = client.CoreV1Api()
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    operator = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", "default",
         os.path.join(here, "kopf_operator.py")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = {"apiVersion": "probes.tera-operator.io/v1", "kind": "Greeting",
                "metadata": {"name": "hi"}, "spec": {"who": "sandbox"}}
        custom.create_namespaced_custom_object("probes.tera-operator.io", "v1", "default", "greetings", body)
        child = until("the child ConfigMap",
                      lambda: next(iter(core.list_namespaced_config_map(
                          "default", field_selector="metadata.name=hi-greeting").items), None))
        assert child.data == {"greeting": "hello sandbox"}, child.data
        owner = child.metadata.owner_references[0]
        assert (owner.kind, owner.name, owner.controller) == ("Greeting", "hi", True), owner
        greeting = until("the handler result in status",
                         lambda: (lambda g: g if g.get("status", {}).get("create") else None)(
                             custom.get_namespaced_custom_object(
                                 "probes.tera-operator.io", "v1", "default", "greetings", "hi")))
        assert greeting["status"]["create"] == {"configmap": "hi-greeting"}, greeting["status"]
        assert "kopf.zalando.org/KopfFinalizerMarker" in greeting["metadata"].get("finalizers", []), greeting["metadata"]
        custom.delete_namespaced_custom_object("probes.tera-operator.io", "v1", "default", "greetings", "hi")
        until("the Greeting to go once kopf releases its finalizer", lambda: gone(
            lambda: custom.get_namespaced_custom_object("probes.tera-operator.io", "v1", "default", "greetings", "hi")))
        until("the child to be garbage-collected", lambda: gone(
            lambda: core.read_namespaced_config_map("hi-greeting", "default")))
        assert core.read_namespaced_config_map("hi-farewell", "default"), "the deletion handler ran"
        print("ok   kopf_operator")
    except Exception:
        operator.terminate()
        print(operator.communicate(timeout=10)[0])
        raise
    finally:
        if operator.poll() is None:
            operator.terminate()
            operator.wait(timeout=10)


if __name__ == "__main__":
    main()
