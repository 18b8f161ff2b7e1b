"""A small kopf operator (https://kopf.readthedocs.io), run by kopf_probe.py against the sandbox.

A Greeting gets a ConfigMap it owns (kopf.adopt sets the owner reference); the handler's result
lands in the Greeting's status, as kopf stores handler results under status.<handler id>.
"""

import kopf
import kubernetes


@kopf.on.create("probes.tera-operator.io", "v1", "greetings")
def create(spec, name, namespace, **_):
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-greeting"},
        "data": {"greeting": f"hello {spec.get('who', 'world')}"},
    }
    kopf.adopt(child)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, child)
    return {"configmap": child["metadata"]["name"]}


@kopf.on.delete("probes.tera-operator.io", "v1", "greetings")
def delete(name, namespace, **_):
    # A deletion handler makes kopf hold the Greeting with its finalizer until this has run.
    farewell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-farewell"}}
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, farewell)
