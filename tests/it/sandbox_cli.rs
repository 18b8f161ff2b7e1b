//! `tera-operator sandbox`: starts, installs CRDs from --crds, applies --apply paths, writes a
//! kubeconfig kubectl can use, and stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: webservers.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: webservers, singular: webserver, kind: WebServer, shortNames: [ws]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

const APP: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: example.com/v1alpha1
kind: WebServer
metadata: {name: site, namespace: demo}
spec: {image: nginx}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
"#;

/// Kills the sandbox process if the test fails before stopping it.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sandbox_command_serves_crds_and_applied_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let crds = dir.path().join("crds");
    std::fs::create_dir(&crds).unwrap();
    std::fs::write(crds.join("webserver.yaml"), CRD).unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let kubeconfig = dir.path().join("state/kubeconfig");

    let child = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args(["sandbox", "--no-operator", "--crds"])
        .arg(&crds)
        .arg("--apply")
        .arg(&app)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut guard = Guard(child);
    let child = &mut guard.0;
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push(line.clone());
        if line.starts_with("press Ctrl-C") {
            break;
        }
    }
    let text = seen.join("\n");
    assert!(
        text.contains(&format!("kubeconfig: {}", kubeconfig.display())),
        "{text}"
    );
    assert!(
        text.contains("applied webserver/site") && text.contains("installed 1 CRD(s)"),
        "{text}"
    );
    assert!(text.contains("get webservers,deploy,svc,cm"), "{text}");

    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .expect("kubectl is installed");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(
        kubectl(&["get", "ws", "-n", "demo", "-o", "name"]).contains("webserver.example.com/site")
    );
    assert!(kubectl(&["get", "cm", "settings", "-o", "jsonpath={.data.a}"]).contains('1'));

    // SIGTERM stops it cleanly.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
