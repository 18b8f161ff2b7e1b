//! Helm hooks in a template: which ones only make an object exist (kept as plain objects) and
//! which ones run something at a lifecycle step (markers).

/// What a template's `helm.sh/hook` annotation means for the conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hook {
    /// No hook annotation.
    None,
    /// An object made at install and remade at each upgrade, never deleted by a hook-delete
    /// policy, of a kind that runs nothing: the end state is the object, which a reconciling
    /// operator keeps. Holds the hook events, for the report.
    Persistent(String),
    /// Anything else (Jobs, Pods, `hook-succeeded` deletion, test or delete hooks, …).
    Lifecycle,
}

/// The value of `key:` in `text` (first occurrence, quotes removed), if constant.
fn annotation<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().trim_start_matches(['"', '\'']);
        let rest = rest.strip_prefix(key)?.trim_start_matches(['"', '\'']);
        let value = rest.strip_prefix(':')?.trim().trim_matches(['"', '\'']);
        Some(value)
    })
}

/// Classifies the hook of a template from its source text.
pub(super) fn classify(text: &str) -> Hook {
    let Some(events) = annotation(text, "helm.sh/hook") else {
        return if text.contains("helm.sh/hook") {
            Hook::Lifecycle
        } else {
            Hook::None
        };
    };
    if events.contains("{{") {
        return Hook::Lifecycle;
    }
    let list: Vec<&str> = events.split(',').map(str::trim).collect();
    let persistent_events = list.iter().all(|e| {
        matches!(
            *e,
            "pre-install" | "post-install" | "pre-upgrade" | "post-upgrade"
        )
    }) && list.iter().any(|e| e.ends_with("-install"))
        && list.iter().any(|e| e.ends_with("-upgrade"));
    let policy = annotation(text, "helm.sh/hook-delete-policy").unwrap_or("before-hook-creation");
    let kept = policy
        .split(',')
        .map(str::trim)
        .all(|p| p == "before-hook-creation");
    let kind = text
        .lines()
        .find_map(|l| l.strip_prefix("kind:"))
        .map(str::trim)
        .unwrap_or_default();
    let runs = kind.contains("{{") || matches!(kind, "Job" | "Pod" | "CronJob");
    if persistent_events && kept && !runs {
        Hook::Persistent(list.join(", "))
    } else {
        Hook::Lifecycle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_that_persist_are_kept() {
        let pdb = "kind: PodDisruptionBudget\nmetadata:\n  annotations:\n    helm.sh/hook: \"post-upgrade, post-install\"\n    helm.sh/hook-delete-policy: \"before-hook-creation\"\n";
        assert_eq!(
            classify(pdb),
            Hook::Persistent("post-upgrade, post-install".into())
        );
        let cm = "kind: ConfigMap\nmetadata:\n  annotations:\n    \"helm.sh/hook\": pre-install,pre-upgrade\n";
        assert_eq!(
            classify(cm),
            Hook::Persistent("pre-install, pre-upgrade".into())
        );
        for lifecycle in [
            // A Job runs something.
            "kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n",
            // Made once at install only: an operator would keep updating it.
            "kind: ConfigMap\nmetadata:\n  annotations:\n    helm.sh/hook: post-install\n",
            // Deleted once it succeeded: the end state has no object.
            "kind: Secret\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: hook-succeeded\n",
            "kind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n",
            "kind: ConfigMap\nmetadata:\n  annotations:\n    helm.sh/hook: {{ .Values.hook }}\n",
        ] {
            assert_eq!(classify(lifecycle), Hook::Lifecycle, "{lifecycle}");
        }
        assert_eq!(classify("kind: ConfigMap\n"), Hook::None);
    }
}
