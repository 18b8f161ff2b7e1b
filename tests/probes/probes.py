"""Probes of the sandbox with the official Kubernetes Python client (PyPI `kubernetes`).

Each probe states the Kubernetes behaviour it expects and where that behaviour is documented
or implemented upstream. Run: python probes.py KUBECONFIG. Prints one line per probe and exits
non-zero if any probe fails. The sandbox is expected to be started with history_limit=50.
"""

import json
import sys
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

PROBES = []


def probe(doc):
    def wrap(f):
        f.__doc__ = doc
        PROBES.append(f)
        return f

    return wrap


def status_of(e):
    try:
        return json.loads(e.body)
    except Exception:  # noqa: BLE001 - a body that is not JSON is a failure the caller reports
        return {}


def expect_error(code, f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except ApiException as e:
        assert e.status == code, f"expected {code}, got {e.status}: {e.body}"
        return status_of(e)
    raise AssertionError(f"expected HTTP {code}, the call succeeded")


def cm(name, data=None, **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data or {}}


@probe("Deleting a namespace puts it in phase Terminating and new objects in it are refused with "
       "403 Forbidden until its content is gone. Source: "
       "https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace and "
       "plugin/pkg/admission/namespace/lifecycle/admission.go")
def namespace_terminating(core):
    core.create_namespace({"metadata": {"name": "probe-ns"}})
    ns = core.read_namespace("probe-ns")
    assert ns.spec.finalizers == ["kubernetes"], ns.spec.finalizers
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "probe-ns"
    core.create_namespaced_config_map("probe-ns", cm("held", finalizers=["example.com/hold"]))
    core.delete_namespace("probe-ns")
    assert core.read_namespace("probe-ns").status.phase == "Terminating"
    status = expect_error(403, core.create_namespaced_config_map, "probe-ns", cm("late"))
    assert "because it is being terminated" in status["message"], status
    core.patch_namespaced_config_map("held", "probe-ns", {"metadata": {"finalizers": None}})
    expect_error(404, core.read_namespace, "probe-ns")


@probe("A watch from a resourceVersion older than the server's history answers 410 Gone, which "
       "the client raises as an ApiException(410). Source: "
       "https://kubernetes.io/docs/reference/using-api/api-concepts/#410-gone-responses")
def watch_410(core):
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    for i in range(60):
        core.create_namespaced_config_map("default", cm(f"churn-{i}"))
    # watch.Watch().stream retries once after a 410 and, with a timeout, then just ends; so the
    # raw watch response is read through the client's transport.
    resp = core.list_namespaced_config_map("default", watch=True, resource_version=rv,
                                           timeout_seconds=5, _preload_content=False)
    first = json.loads(resp.data.decode().splitlines()[0])  # the server ends the stream after it
    assert first["type"] == "ERROR", first
    assert (first["object"]["code"], first["object"]["reason"]) == (410, "Expired"), first


@probe("Chunks of a paged list are served at the resourceVersion of the first chunk (a consistent "
       "snapshot). Source: https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks")
def paged_list_snapshot(core):
    first = core.list_namespaced_config_map("default", limit=5)
    core.create_namespaced_config_map("default", cm("zz-after-first-page"))
    names, token = [], first.metadata._continue
    while token:
        page = core.list_namespaced_config_map("default", limit=5, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert "zz-after-first-page" not in names


@probe("A ConfigMap with immutable: true refuses changes to its data with 422. Source: "
       "https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable")
def immutable_configmap(core):
    core.create_namespaced_config_map("default", {**cm("frozen", {"a": "1"}), "immutable": True})
    status = expect_error(422, core.patch_namespaced_config_map, "frozen", "default", {"data": {"a": "2"}})
    assert "field is immutable when `immutable` is set" in status["message"], status


@probe("A Deployment's spec.selector is immutable in apps/v1. Source: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates")
def deployment_selector(core):
    apps = client.AppsV1Api(core.api_client)
    body = {"metadata": {"name": "sel"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    apps.create_namespaced_deployment("default", body)
    patch = {"spec": {"selector": {"matchLabels": {"app": "b"}}, "template": {"metadata": {"labels": {"app": "b"}}}}}
    status = expect_error(422, apps.patch_namespaced_deployment, "sel", "default", patch)
    assert "field is immutable" in status["message"], status


@probe("Field selectors on fields a kind does not support answer 400. Source: "
       "https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/#supported-fields")
def field_selector(core):
    status = expect_error(400, core.list_namespaced_config_map, "default", field_selector="data.a=1")
    assert status["message"] == "field label not supported: data.a", status


@probe("A NodePort Service gets a node port from 30000-32767 and the IPv4 single-stack defaults. "
       "Source: https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport and "
       "https://kubernetes.io/docs/concepts/services-networking/dual-stack/#services")
def service_defaults(core):
    svc = core.create_namespaced_service("default", {"metadata": {"name": "np"},
                                                     "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    assert 30000 <= svc.spec.ports[0].node_port <= 32767, svc.spec.ports
    assert svc.spec.ip_families == ["IPv4"] and svc.spec.ip_family_policy == "SingleStack"
    assert svc.spec.internal_traffic_policy == "Cluster"


@probe("Label values must be valid label values; an invalid one answers 422 naming metadata.labels. "
       "Source: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set")
def label_values(core):
    status = expect_error(422, core.create_namespaced_config_map, "default", cm("badlabel", labels={"a": "b c"}))
    assert status["details"]["causes"][0]["field"] == "metadata.labels", status


@probe("dryRun accepts only the value All; any other value answers 422 Invalid on the request's "
       "options (CreateOptions.meta.k8s.io). Source: "
       "https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run and apimachinery's "
       "ValidateDryRun (pkg/apis/meta/v1/validation), called by the create handler")
def dry_run_values(core):
    status = expect_error(422, core.create_namespaced_config_map, "default", cm("dry"), dry_run="Server")
    assert status["details"]["kind"] == "CreateOptions", status
    assert status["details"]["causes"][0]["field"] == "dryRun", status
    assert 'supported values: "All"' in status["message"], status
    core.create_namespaced_config_map("default", cm("dry"), dry_run="All")
    expect_error(404, core.read_namespaced_config_map, "dry", "default")


@probe("events.k8s.io/v1 Events need eventTime, type Normal or Warning, reportingController, "
       "reportingInstance, action and reason, and a note of at most 1024 characters. Source: "
       "https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/ and "
       "ValidateEventCreate (pkg/apis/core/validation/events.go)")
def events_v1_required_fields(core):
    events = client.EventsV1Api(core.api_client)
    bare = {"metadata": {"name": "bare"}, "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}
    status = expect_error(422, events.create_namespaced_event, "default", bare)
    fields = sorted(c["field"] for c in status["details"]["causes"])
    assert fields == ["eventTime", "type"], status
    good = {**bare, "metadata": {"name": "good"}, "eventTime": "2026-01-01T00:00:00.000000Z", "type": "Normal",
            "reportingController": "example.com/probe", "reportingInstance": "probe-1", "action": "Probe",
            "reason": "Probed", "note": "x" * 1025}
    status = expect_error(422, events.create_namespaced_event, "default", good)
    assert [c["field"] for c in status["details"]["causes"]] == ["message"], status
    good["note"] = "x" * 1024
    events.create_namespaced_event("default", good)
    assert core.read_namespaced_event("good", "default").message == "x" * 1024


@probe("A HorizontalPodAutoscaler written as autoscaling/v1 is read as autoscaling/v2: the CPU "
       "target becomes a cpu Resource metric with an Utilization target. Source: "
       "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#api-object and "
       "pkg/apis/autoscaling/v1/conversion.go")
def hpa_v1_is_v2(core):
    v1 = client.AutoscalingV1Api(core.api_client)
    v2 = client.AutoscalingV2Api(core.api_client)
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nothing"}
    v1.create_namespaced_horizontal_pod_autoscaler("default", {"metadata": {"name": "probe-hpa"}, "spec": {
        "scaleTargetRef": target, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}})
    metric = v2.read_namespaced_horizontal_pod_autoscaler("probe-hpa", "default").spec.metrics[0]
    assert metric.type == "Resource" and metric.resource.name == "cpu", metric
    assert metric.resource.target.type == "Utilization" and metric.resource.target.average_utilization == 50


@probe("What autoscaling/v1 cannot express travels in annotations, in the shapes upstream writes: "
       "other metrics as v1 MetricSpec (targetAverageValue, metricName), every current metric, and "
       "behavior as the internal Go type (ScaleDown, StabilizationWindowSeconds). Source: "
       "pkg/apis/autoscaling/v1/conversion.go (Convert_autoscaling_HorizontalPodAutoscaler_To_v1_"
       "HorizontalPodAutoscaler) and pkg/apis/autoscaling/annotations.go")
def hpa_v1_annotations(core):
    v1 = client.AutoscalingV1Api(core.api_client)
    v2 = client.AutoscalingV2Api(core.api_client)
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nothing"}
    v2.create_namespaced_horizontal_pod_autoscaler("default", {"metadata": {"name": "probe-hpa-v2"}, "spec": {
        "scaleTargetRef": target, "maxReplicas": 3,
        "metrics": [{"type": "Resource", "resource": {"name": "memory",
                                                      "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}}})
    notes = v1.read_namespaced_horizontal_pod_autoscaler("probe-hpa-v2", "default").metadata.annotations
    metrics = json.loads(notes["autoscaling.alpha.kubernetes.io/metrics"])
    assert metrics == [{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}], metrics
    behavior = json.loads(notes["autoscaling.alpha.kubernetes.io/behavior"])
    assert behavior["ScaleDown"]["StabilizationWindowSeconds"] == 30, behavior
    # Written back through v1 unchanged, the v2 object keeps its metric and behavior.
    got = v1.read_namespaced_horizontal_pod_autoscaler("probe-hpa-v2", "default")
    v1.replace_namespaced_horizontal_pod_autoscaler("probe-hpa-v2", "default", got)
    back = v2.read_namespaced_horizontal_pod_autoscaler("probe-hpa-v2", "default")
    assert [m.resource.name for m in back.spec.metrics] == ["memory"], back.spec.metrics
    assert back.spec.behavior.scale_down.stabilization_window_seconds == 30, back.spec.behavior
    assert not (back.metadata.annotations or {}), back.metadata.annotations


@probe("A CronJob's spec.timeZone must name a zone of the IANA database: an unknown one answers 422 "
       "naming spec.timeZone, 'Local' is refused, a real zone is accepted. Source: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones and "
       "pkg/apis/batch/validation/validation.go (validateTimeZone)")
def cronjob_time_zone(core):
    batch = client.BatchV1Api(core.api_client)

    def cronjob(name, tz):
        return {"metadata": {"name": name}, "spec": {"schedule": "0 9 * * *", "timeZone": tz, "jobTemplate": {
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}}}}}
    for tz, words in [("Mars/Phobos", "unknown time zone Mars/Phobos"), ("Local", "explicit time zone")]:
        status = expect_error(422, batch.create_namespaced_cron_job, "default", cronjob("probe-tz", tz))
        causes = status["details"]["causes"]
        assert [c["field"] for c in causes] == ["spec.timeZone"] and words in causes[0]["message"], status
    made = batch.create_namespaced_cron_job("default", cronjob("probe-tz", "Europe/Berlin"))
    assert made.spec.time_zone == "Europe/Berlin", made.spec


@probe("A SelfSubjectAccessReview answers whether the caller may do something; the sandbox has no "
       "authorization, so it is allowed and the reason says so. Source: "
       "https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access")
def self_subject_access_review(core):
    authz = client.AuthorizationV1Api(core.api_client)
    review = authz.create_self_subject_access_review({"spec": {"resourceAttributes": {
        "verb": "delete", "resource": "secrets", "namespace": "kube-system"}}})
    assert review.status.allowed is True, review.status
    assert "no authorization" in review.status.reason, review.status


def wait_for(what, f, timeout=30):
    """Polls f until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = f()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stream_until(list_fn, rv, done, *args, **kwargs):
    """Watch events (type, object) of list_fn from rv until done(events) holds."""
    events = []
    w = watch.Watch()
    for ev in w.stream(list_fn, *args, resource_version=rv, timeout_seconds=30, **kwargs):
        events.append((ev["type"], ev["object"]))
        if done(events):
            w.stop()
            return events
    raise AssertionError(f"the watch ended before the expected state: {len(events)} events")


def deployment(name, replicas, image, strategy=None, **spec):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "strategy": strategy or {}, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


def condition(obj, ty):
    return next((c for c in (obj.status.conditions or []) if c.type == ty), None)


def rolled_out(apps, name):
    def done():
        d = apps.read_namespaced_deployment(name, "default")
        s, want = d.status, d.spec.replicas
        progressing = condition(d, "Progressing")
        ok = (s.observed_generation == d.metadata.generation and s.updated_replicas == want
              and s.available_replicas == want and s.replicas == want
              and progressing is not None and progressing.reason == "NewReplicaSetAvailable")
        return d if ok else None
    return wait_for(f"deployment {name} rolled out", done)


@probe("A RollingUpdate with maxSurge 1 and maxUnavailable 0 adds one new Pod at a time and removes "
       "an old one only once the new one is available: the new ReplicaSet grows 1, 2, 3, 4 and the "
       "ReplicaSets never want more than replicas + maxSurge Pods together. Sources: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge and "
       "pkg/controller/deployment/rolling.go (reconcileNewReplicaSet, reconcileOldReplicaSets)")
def deployment_rolling_steps(core):
    apps = client.AppsV1Api(core.api_client)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    apps.create_namespaced_deployment("default", deployment("probe-roll", 4, "nginx:1.27", strategy))
    rolled_out(apps, "probe-roll")
    listed = apps.list_namespaced_replica_set("default", label_selector="app=probe-roll")
    specs = {rs.metadata.name: rs.spec.replicas for rs in listed.items}
    apps.patch_namespaced_deployment("probe-roll", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "nginx:1.28"}]}}}})
    steps = []

    def done(events):
        kind, rs = events[-1]
        specs[rs.metadata.name] = 0 if kind == "DELETED" else rs.spec.replicas
        assert sum(specs.values()) <= 5, specs
        if rs.spec.template.spec.containers[0].image == "nginx:1.28":
            if not steps or steps[-1] != rs.spec.replicas:
                steps.append(rs.spec.replicas)
            return rs.spec.replicas == 4 and (rs.status.available_replicas or 0) == 4
        return False
    stream_until(apps.list_namespaced_replica_set, listed.metadata.resource_version, done, "default",
                 label_selector="app=probe-roll")
    assert steps == [1, 2, 3, 4], steps
    d = rolled_out(apps, "probe-roll")
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2", d.metadata.annotations


@probe("A new Deployment's Progressing condition goes from NewReplicaSetCreated (\"Created new replica "
       "set\") to NewReplicaSetAvailable (\"ReplicaSet ... has successfully progressed.\"), and Available "
       "turns True with reason MinimumReplicasAvailable. Sources: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status and "
       "pkg/controller/deployment/sync.go (getNewReplicaSet), progress.go (syncRolloutStatus)")
def deployment_progress_reasons(core):
    apps = client.AppsV1Api(core.api_client)
    created = apps.create_namespaced_deployment("default", deployment("probe-progress", 2, "nginx:1.27"))
    reasons = []

    def done(events):
        d = events[-1][1]
        c = condition(d, "Progressing")
        if c is not None and (not reasons or reasons[-1] != c.reason):
            reasons.append(c.reason)
        return c is not None and c.reason == "NewReplicaSetAvailable"
    events = stream_until(apps.list_namespaced_deployment, created.metadata.resource_version, done,
                          "default", field_selector="metadata.name=probe-progress")
    assert reasons[0] == "NewReplicaSetCreated" and reasons[-1] == "NewReplicaSetAvailable", reasons
    d = events[-1][1]
    rs = apps.list_namespaced_replica_set("default", label_selector="app=probe-progress").items[0]
    assert condition(d, "Progressing").message == f'ReplicaSet "{rs.metadata.name}" has successfully progressed.'
    available = condition(d, "Available")
    assert (available.status, available.reason) == ("True", "MinimumReplicasAvailable"), available


@probe("A paused Deployment records a template change (observedGeneration) without rolling it out: "
       "no new ReplicaSet, Progressing Unknown with reason DeploymentPaused; resuming rolls out. "
       "Sources: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#pausing-and-resuming-a-deployment "
       "and pkg/controller/deployment/progress.go (checkPausedConditions)")
def deployment_paused(core):
    apps = client.AppsV1Api(core.api_client)
    apps.create_namespaced_deployment("default", deployment("probe-paused", 1, "nginx:1.27"))
    rolled_out(apps, "probe-paused")
    apps.patch_namespaced_deployment("probe-paused", "default", {"spec": {"paused": True, "template": {
        "spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}})
    d = wait_for("the paused change observed", lambda: (
        lambda d: d if d.status.observed_generation == 2 else None)(
            apps.read_namespaced_deployment("probe-paused", "default")))
    c = condition(d, "Progressing")
    assert (c.status, c.reason) == ("Unknown", "DeploymentPaused"), c
    assert len(apps.list_namespaced_replica_set("default", label_selector="app=probe-paused").items) == 1
    apps.patch_namespaced_deployment("probe-paused", "default", {"spec": {"paused": False}})
    rolled_out(apps, "probe-paused")
    assert len(apps.list_namespaced_replica_set("default", label_selector="app=probe-paused").items) == 2


def ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


@probe("A StatefulSet with the default OrderedReady policy creates Pod N only once Pod N-1 is Running "
       "and Ready; each Pod is named <set>-<ordinal> and labelled statefulset.kubernetes.io/pod-name, "
       "apps.kubernetes.io/pod-index and controller-revision-hash (= status.updateRevision). Sources: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#deployment-and-scaling-guarantees, "
       "#pod-index-label, and pkg/controller/statefulset/stateful_set_control.go")
def statefulset_ordered_pods(core):
    apps = client.AppsV1Api(core.api_client)
    labels = {"app": "probe-db"}
    rv = core.list_namespaced_pod("default").metadata.resource_version
    apps.create_namespaced_stateful_set("default", {"metadata": {"name": "probe-db"}, "spec": {
        "replicas": 3, "serviceName": "probe-db", "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "redis:7.2"}]}}}})
    order = []

    def done(events):
        kind, pod = events[-1]
        name = pod.metadata.name
        if kind == "ADDED":
            order.append(("created", name))
        if ready(pod) and ("ready", name) not in order:
            order.append(("ready", name))
        return len([o for o in order if o[0] == "ready"]) == 3
    stream_until(core.list_namespaced_pod, rv, done, "default", label_selector="app=probe-db")
    for i in (1, 2):
        assert order.index(("ready", f"probe-db-{i - 1}")) < order.index(("created", f"probe-db-{i}")), order
    s = wait_for("the set's status", lambda: (lambda s: s if s.status.ready_replicas == 3 else None)(
        apps.read_namespaced_stateful_set("probe-db", "default")))
    assert s.status.current_revision == s.status.update_revision, s.status
    pod = core.read_namespaced_pod("probe-db-2", "default")
    assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "probe-db-2"
    assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "2"
    assert pod.metadata.labels["controller-revision-hash"] == s.status.update_revision
    assert pod.spec.hostname == "probe-db-2" and pod.spec.subdomain == "probe-db"


@probe("A Job runs up to parallelism Pods until completions of them succeed; succeeded counts them, "
       "and the SuccessCriteriaMet condition comes before Complete, with startTime and completionTime "
       "set. Sources: https://kubernetes.io/docs/concepts/workloads/controllers/job/#parallel-jobs, "
       "#termination-of-job-pods, and pkg/controller/job/job_controller.go")
def job_pods_complete(core):
    batch = client.BatchV1Api(core.api_client)
    batch.create_namespaced_job("default", {"metadata": {"name": "probe-job"}, "spec": {
        "completions": 3, "parallelism": 2, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox:1.36"}]}}}})

    def complete():
        j = batch.read_namespaced_job("probe-job", "default")
        return j if condition(j, "Complete") is not None else None
    j = wait_for("the Job to complete", complete)
    assert j.status.succeeded == 3 and not j.status.active, j.status
    assert [c.type for c in j.status.conditions] == ["SuccessCriteriaMet", "Complete"], j.status.conditions
    assert j.status.start_time and j.status.completion_time, j.status
    pods = core.list_namespaced_pod("default", label_selector="job-name=probe-job").items
    assert len(pods) == 3 and all(p.status.phase == "Succeeded" for p in pods), [p.status.phase for p in pods]
    assert all(p.metadata.owner_references[0].kind == "Job" for p in pods)


@probe("A DaemonSet runs one Pod per eligible Node; the sandbox serves no Nodes, so it schedules none "
       "and its status says 0 desired, observed at its generation. Sources: "
       "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/ and "
       "pkg/controller/daemon/daemon_controller.go (updateDaemonSetStatus)")
def daemonset_without_nodes(core):
    apps = client.AppsV1Api(core.api_client)
    labels = {"app": "probe-ds"}
    apps.create_namespaced_daemon_set("default", {"metadata": {"name": "probe-ds"}, "spec": {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}})
    ds = wait_for("the DaemonSet's status", lambda: (lambda d: d if d.status.observed_generation == 1 else None)(
        apps.read_namespaced_daemon_set("probe-ds", "default")))
    assert ds.status.desired_number_scheduled == 0 and ds.status.number_ready == 0, ds.status
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1, ds.spec.update_strategy
    assert core.list_namespaced_pod("default", label_selector="app=probe-ds").items == []


def main():
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    failed = 0
    for p in PROBES:
        try:
            p(core)
            print(f"ok   {p.__name__}")
        except Exception:  # noqa: BLE001 - every failure is reported, then the next probe runs
            failed += 1
            print(f"FAIL {p.__name__}: {p.__doc__}\n{traceback.format_exc()}")
    print(f"{len(PROBES) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
