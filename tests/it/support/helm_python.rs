//! Finds a Python that can import `helm_python` (the real Helm v4 client from the PyPI package
//! `helm-python-sdk`), installing it into `.venv` on first use so a fresh machine needs no setup.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The pinned helm-python-sdk version.
pub const HELM_PYTHON_SDK: &str = "helm-python-sdk==0.2.2";

fn can_import(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import helm_python"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `$TERA_OPERATOR_HELM_PYTHON`, else `.venv/bin/python` (created and filled if missing).
/// Panics with the reason when neither works: the Helm tests never skip.
pub fn python() -> String {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(find_or_install).clone()
}

fn find_or_install() -> String {
    if let Ok(explicit) = std::env::var("TERA_OPERATOR_HELM_PYTHON") {
        assert!(
            can_import(&explicit),
            "TERA_OPERATOR_HELM_PYTHON={explicit} cannot import helm_python"
        );
        return explicit;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv_python = root.join(".venv/bin/python").display().to_string();
    if can_import(&venv_python) {
        return venv_python;
    }
    // Build the venv beside the final location, then move it in place, so concurrent test
    // processes never see a half-installed one.
    let staging = root.join(format!(".venv.staging-{}", std::process::id()));
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let staging_str = staging.display().to_string();
    run("python3", &["-m", "venv", &staging_str]);
    run(
        &format!("{staging_str}/bin/pip"),
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            HELM_PYTHON_SDK,
        ],
    );
    if !can_import(&venv_python) {
        let _ = std::fs::remove_dir_all(root.join(".venv"));
        std::fs::rename(&staging, root.join(".venv")).expect("move the venv in place");
    } else {
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(
        can_import(&venv_python),
        "installed {HELM_PYTHON_SDK} but helm_python still does not import"
    );
    venv_python
}
