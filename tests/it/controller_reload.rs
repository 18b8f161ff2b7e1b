//! Hot reload against the sandbox: a broken chart keeps the last good one serving; a new
//! chart plus mapping entry serves a new kind without a restart.

use crate::support as common;

use common::*;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_chart_keeps_the_last_good_chart_serving() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    let template = h.chart_dir("webserver").join("templates/deployment.yaml");
    let good = std::fs::read_to_string(&template).expect("template");
    std::fs::write(&template, "{{ values.replicas \n").expect("break the chart");

    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "the condition says the chart is broken",
            |o| {
                condition(o, "Ready")["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("last good one is serving"))
            },
        )
        .await;
    assert!(
        condition(&cr, "Ready")["message"]
            .as_str()
            .unwrap_or("")
            .contains("deployment.yaml"),
        "{cr}"
    );
    let metrics = h.metrics().encode().expect("metrics");
    assert!(
        metrics.contains("tera_operator_chart_stale{kind=\"web.tera-operator.io/WebServer\"} 1"),
        "{metrics}"
    );
    let events: Api<DynamicObject> = Api::namespaced_with(
        h.client.clone(),
        "default",
        &builtin("events.k8s.io", "v1", "Event", "events"),
    );
    eventually("a ChartReloadFailed warning event", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| e.data["reason"] == "ChartReloadFailed" && e.data["type"] == "Warning")
                .then_some(())
        }
    })
    .await;

    // The last good chart still renders spec changes.
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 2}}),
    )
    .await;
    h.wait_for(&deployments(), "default", "hello", "2 replicas", |d| {
        d["spec"]["replicas"] == 2
    })
    .await;

    // A fixed (and changed) chart replaces it and clears the warning.
    let fixed = good.replacen(
        "app.kubernetes.io/component: server",
        "app.kubernetes.io/component: server\n    tier: web",
        1,
    );
    assert_ne!(fixed, good);
    std::fs::write(&template, fixed).expect("fix the chart");
    h.wait_for(
        &deployments(),
        "default",
        "hello",
        "the new chart's label",
        |d| d["metadata"]["labels"]["tier"] == "web",
    )
    .await;
    h.wait_for(
        &webservers(),
        "default",
        "hello",
        "the warning to clear",
        |o| {
            condition(o, "Ready")["status"] == "True"
                && !condition(o, "Ready")["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("last good")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_chart_and_mapping_entry_serve_a_new_kind() {
    let h = Harness::start().await;
    let site_chart = h.chart_dir("site");
    std::fs::create_dir_all(site_chart.join("templates")).expect("mkdir");
    for file in [
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "templates/configmap.yaml",
    ] {
        std::fs::copy(h.chart_dir("webserver").join(file), site_chart.join(file)).expect("copy");
    }
    create_crd(&h.client, "Site", "sites").await;
    let mut mapping = std::fs::read_to_string(h.mapping_path()).expect("mapping");
    mapping.push_str(
        "\n- group: web.tera-operator.io\n  version: v1alpha1\n  kind: Site\n  chart: site\n",
    );
    std::fs::write(h.mapping_path(), mapping).expect("write mapping");

    let sites = resource("Site", "sites");
    let cr = h
        .create(
            &sites,
            "default",
            "apiVersion: web.tera-operator.io/v1alpha1\nkind: Site\nmetadata:\n  name: blog\nspec: {}\n",
        )
        .await;
    let configmap = h.get(&configmaps(), "default", "blog").await;
    assert_eq!(configmap["metadata"]["ownerReferences"][0]["kind"], "Site");
    assert_eq!(
        configmap["metadata"]["ownerReferences"][0]["uid"].as_str(),
        cr.metadata.uid.as_deref()
    );
    h.wait_condition(&sites, "default", "blog", "True", "Ready")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_crds_serves_a_new_kind_and_removing_it_deletes_nothing() {
    let h = Harness::start_full(None, Vec::new(), true).await;

    // The CRD the operator installed is the checked-in one: a user applying crds/ with kubectl
    // afterwards shares its fields instead of conflicting (no --force-conflicts needed).
    let checked_in = std::fs::read_to_string("crds/webservers.web.tera-operator.io.yaml")
        .expect("checked-in CRD");
    let checked_in: serde_json::Value = serde_yaml::from_str(&checked_in).expect("CRD yaml");
    let crds = builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    Api::<DynamicObject>::all_with(h.client.clone(), &crds)
        .patch(
            "webservers.web.tera-operator.io",
            &PatchParams::apply("kubectl"),
            &Patch::Apply(&checked_in),
        )
        .await
        .expect("kubectl's apply of crds/ does not conflict with the operator's");

    let site_chart = h.chart_dir("site");
    std::fs::create_dir_all(site_chart.join("templates")).expect("mkdir");
    for file in [
        "values.yaml",
        "values.schema.json",
        "templates/configmap.yaml",
    ] {
        std::fs::copy(h.chart_dir("webserver").join(file), site_chart.join(file)).expect("copy");
    }
    std::fs::write(
        site_chart.join("Chart.yaml"),
        "name: site\nversion: 0.1.0\n",
    )
    .expect("chart");
    let entry =
        "\n- group: web.tera-operator.io\n  version: v1alpha1\n  kind: Site\n  chart: site\n";
    let original = std::fs::read_to_string(h.mapping_path()).expect("mapping");
    std::fs::write(h.mapping_path(), format!("{original}{entry}")).expect("write mapping");

    // The operator applies the generated CRD: nobody else creates it here.
    wait_served(&h.client, "Site", "the operator to install the Site CRD").await;
    let metrics = h.metrics();
    eventually("the Site controller to run", || async {
        metrics.is_served("web.tera-operator.io/Site").then_some(())
    })
    .await;
    let sites = resource("Site", "sites");
    h.create(
        &sites,
        "default",
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: Site\nmetadata:\n  name: blog\nspec: {}\n",
    )
    .await;
    h.wait_condition(&sites, "default", "blog", "True", "Ready")
        .await;

    std::fs::write(h.mapping_path(), original).expect("restore mapping");
    eventually("the Site controller to stop", || async {
        (!metrics.is_served("web.tera-operator.io/Site")).then_some(())
    })
    .await;
    assert!(metrics.is_served("web.tera-operator.io/WebServer"));
    h.get(&configmaps(), "default", "blog").await;
    h.get(&sites, "default", "blog").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_mapping_file_keeps_the_running_kinds() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    std::fs::write(h.mapping_path(), "- group: [not, a, mapping\n").expect("break the mapping");
    let metrics = h.metrics();
    eventually("the mapping reload to fail", || async {
        let text = metrics.encode().ok()?;
        text.contains("tera_operator_chart_loads_total{kind=\"mapping\",result=\"failure\"}")
            .then_some(())
    })
    .await;
    assert!(metrics.is_served("web.tera-operator.io/WebServer"));
    let service = h.get(&services(), "default", "hello").await;
    h.api(&services(), "default")
        .delete("hello", &Default::default())
        .await
        .expect("delete");
    h.wait_for(&services(), "default", "hello", "recreated", |s| {
        s["metadata"]["uid"] != service["metadata"]["uid"]
    })
    .await;
}

/// Charts mounted from a ConfigMap: kubelet writes each version into a fresh `..<timestamp>`
/// directory and swaps the `..data` symlink atomically; the mapping and chart paths are symlinks
/// through it. One swap is one reload of what changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_mounted_from_a_configmap_reload_on_the_symlink_swap() {
    let mut h = Harness::start().await;
    h.operator.take().expect("operator").shutdown().await;
    let mount = h.mapping_path().parent().expect("charts dir").to_path_buf();
    let first = mount.join("..2026_11_23_v1");
    std::fs::create_dir(&first).expect("mkdir");
    for entry in ["watches.yaml", "webserver", "balancer"] {
        std::fs::rename(mount.join(entry), first.join(entry)).expect("move into the version dir");
    }
    std::os::unix::fs::symlink("..2026_11_23_v1", mount.join("..data")).expect("..data");
    for entry in ["watches.yaml", "webserver", "balancer"] {
        std::os::unix::fs::symlink(format!("..data/{entry}"), mount.join(entry)).expect("link");
    }
    h.start_operator(Vec::new(), false).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let before = h.get(&configmaps(), "default", "hello").await;

    // The next version of the ConfigMap: a changed nginx.conf template.
    let second = mount.join("..2026_11_23_v2");
    std::fs::create_dir(&second).expect("mkdir");
    std::fs::copy(first.join("watches.yaml"), second.join("watches.yaml")).expect("copy");
    copy_dir(&first.join("webserver"), &second.join("webserver"));
    copy_dir(&first.join("balancer"), &second.join("balancer"));
    let template = second.join("webserver/templates/configmap.yaml");
    let text = std::fs::read_to_string(&template).expect("template");
    let marked = text.replacen("server {", "# version 2\n    server {", 1);
    assert_ne!(marked, text, "the template has a server block to mark");
    std::fs::write(&template, marked).expect("write");
    std::os::unix::fs::symlink("..2026_11_23_v2", mount.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).expect("swap ..data");

    h.wait_for(
        &configmaps(),
        "default",
        "hello",
        "nginx.conf from the swapped-in chart",
        |cm| {
            cm["data"]["nginx.conf"]
                .as_str()
                .is_some_and(|conf| conf.contains("# version 2"))
        },
    )
    .await;
    assert!(
        !before["data"]["nginx.conf"]
            .as_str()
            .unwrap_or_default()
            .contains("# version 2")
    );
    let metrics = h.metrics().encode().expect("metrics");
    assert!(
        metrics.contains(
            "tera_operator_chart_loads_total{kind=\"web.tera-operator.io/Balancer\",result=\"success\"} 1"
        ),
        "the unchanged Balancer chart was not reloaded:\n{metrics}"
    );
}

/// Waits for the Ready message of webserver/hello to say the newest chart was refused, and
/// returns that message.
async fn refusal_message(h: &Harness) -> String {
    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "the condition says the new chart was refused",
            |o| {
                condition(o, "Ready")["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("last good one is serving"))
            },
        )
        .await;
    condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A chart that compiles but cannot render its own defaults is refused: the last good chart
/// keeps serving, and the refusal is in the metric, a Warning event and the condition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_whose_defaults_do_not_render_is_refused() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    let template = h.chart_dir("webserver").join("templates/service.yaml");
    let good = std::fs::read_to_string(&template).expect("template");
    // Compiles, but every render fails: `values.nope` is not defined.
    std::fs::write(
        &template,
        format!("{good}\n# {{{{ values.nope.deeper }}}}\n"),
    )
    .expect("write");

    let message = refusal_message(&h).await;
    assert!(
        message.contains("values.yaml: these values do not render"),
        "{message}"
    );
    assert!(message.contains("templates/service.yaml"), "{message}");
    assert_eq!(
        h.metric("tera_operator_chart_stale{kind=\"web.tera-operator.io/WebServer\"}"),
        1.0
    );
    let events: Api<DynamicObject> = Api::namespaced_with(
        h.client.clone(),
        "default",
        &builtin("events.k8s.io", "v1", "Event", "events"),
    );
    eventually("a ChartReloadFailed warning naming the file", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.data["reason"] == "ChartReloadFailed"
                        && e.data["type"] == "Warning"
                        && e.data["note"]
                            .as_str()
                            .is_some_and(|n| n.contains("templates/service.yaml"))
                })
                .then_some(())
        }
    })
    .await;
    // The resource is not RenderFailed: the last good chart still renders its changes.
    assert_eq!(
        condition(&h.get(&webservers(), "default", "hello").await, "Ready")["status"],
        "True"
    );
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 2}}),
    )
    .await;
    h.wait_for(&deployments(), "default", "hello", "2 replicas", |d| {
        d["spec"]["replicas"] == 2
    })
    .await;

    std::fs::write(&template, good).expect("restore");
    h.wait_for(
        &webservers(),
        "default",
        "hello",
        "the refusal to clear",
        |o| {
            condition(o, "Ready")["status"] == "True"
                && !condition(o, "Ready")["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("last good")
        },
    )
    .await;
    assert_eq!(
        h.metric("tera_operator_chart_stale{kind=\"web.tera-operator.io/WebServer\"}"),
        0.0
    );
}

/// A chart whose `ci/*-values.yaml` renders an object the policy refuses (a kind the mapping
/// does not allow) is refused, naming the ci file and the kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_whose_ci_values_break_policy_is_refused() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    let chart = h.chart_dir("webserver");
    std::fs::create_dir_all(chart.join("ci")).expect("mkdir");
    std::fs::write(chart.join("ci/seven-values.yaml"), "replicas: 7\n").expect("ci values");
    std::fs::write(
        chart.join("templates/secret.yaml"),
        "{% if values.replicas == 7 %}apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ release.name }}\n{% endif %}\n",
    )
    .expect("template");

    let message = refusal_message(&h).await;
    assert!(
        message.contains("ci/seven-values.yaml: these values do not render"),
        "{message}"
    );
    assert!(message.contains("Secret"), "{message}");
    // The refused chart never served: no Secret, and the resource's own spec still renders.
    assert!(
        h.api(&builtin("", "v1", "Secret", "secrets"), "default")
            .get_opt("hello")
            .await
            .expect("read")
            .is_none()
    );
}
