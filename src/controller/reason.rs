//! Reasons: the fixed set of words saying why, in status conditions, events and metric labels.

use crate::render;

/// Why a condition has its status, why an event was published, or why a reconcile failed.
/// The strings are part of the operator's interface (docs/production.md lists the condition
/// reasons and metrics; `kubectl wait`, alerts and dashboards match them), so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Reason {
    /// Condition: every child is ready.
    Ready,
    /// Condition: the children are applied, some are not ready yet.
    Progressing,
    /// Condition, event, metric: the spec breaks the chart's values schema (or the resource
    /// lacks a name, kind or apiVersion).
    InvalidSpec,
    /// Condition, event, metric: a template failed, or rendered text that is not objects.
    RenderFailed,
    /// Condition, event, metric: a rendered object breaks the policy.
    PolicyViolation,
    /// Condition, event, metric: rendered objects exist and are not this resource's to take.
    AdoptionRefused,
    /// Condition, event, metric: a rendered object belongs to another resource (its controller
    /// ownerReference or owner-uid label); nothing is applied until its owner lets go of it.
    OwnershipConflict,
    /// Condition, event, metric: the chart renders a kind the API server does not serve (a CRD
    /// not installed); nothing is applied, retried with backoff.
    KindNotServed,
    /// Condition, event, metric: the API server forbade a read, watch or write (403: RBAC or an
    /// admission webhook); retried with backoff.
    Forbidden,
    /// Condition, event, metric: the API server refused a write (or a child kind cannot be
    /// watched); retried.
    ApplyFailed,
    /// Condition, event, metric: deleting a child the chart no longer renders failed; retried.
    PruneFailed,
    /// Metric: the resource could not be encoded as JSON.
    EncodeFailed,
    /// Metric: the status could not be written.
    StatusWriteFailed,
    /// Event: children were written by server-side apply.
    Applied,
    /// Event: children the chart no longer renders were deleted.
    Pruned,
    /// Event: objects of a Helm release were taken over in place.
    Adopted,
    /// Event: the newest chart is broken; the last good one keeps serving.
    ChartReloadFailed,
    /// Condition and event: reconciliation is paused by the resource's annotation.
    Paused,
    /// The chart's status template computed the status fields (condition `StatusComputed`).
    StatusComputed,
    /// The chart's status template failed, or its output broke status.schema.json.
    StatusFailed,
}

impl Reason {
    /// The reason as conditions, events and metrics spell it.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Reason::Ready => "Ready",
            Reason::Progressing => "Progressing",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::RenderFailed => "RenderFailed",
            Reason::PolicyViolation => "PolicyViolation",
            Reason::AdoptionRefused => "AdoptionRefused",
            Reason::OwnershipConflict => "OwnershipConflict",
            Reason::KindNotServed => "KindNotServed",
            Reason::Forbidden => "Forbidden",
            Reason::ApplyFailed => "ApplyFailed",
            Reason::PruneFailed => "PruneFailed",
            Reason::EncodeFailed => "EncodeFailed",
            Reason::StatusWriteFailed => "StatusWriteFailed",
            Reason::Applied => "Applied",
            Reason::Pruned => "Pruned",
            Reason::Adopted => "Adopted",
            Reason::ChartReloadFailed => "ChartReloadFailed",
            Reason::Paused => "Paused",
            Reason::StatusComputed => "StatusComputed",
            Reason::StatusFailed => "StatusFailed",
        }
    }

    /// Whether a failure for this reason is retried by itself (the resource keeps
    /// reconciling) rather than stalled until someone acts: changes the resource or the chart,
    /// installs a CRD, grants RBAC, or (for a conflict) the other owner lets go of the object.
    /// The operator re-checks stalled resources too, so they recover without a restart.
    pub(crate) const fn is_retried(self) -> bool {
        matches!(self, Reason::ApplyFailed | Reason::PruneFailed)
    }

    /// The reason a render failed for.
    pub(crate) fn of_render(error: &render::Error) -> Self {
        match error {
            render::Error::ResourceInvalid(_) | render::Error::InvalidSpec { .. } => {
                Reason::InvalidSpec
            }
            render::Error::ChartInvalid { .. }
            | render::Error::TemplateFailed(_)
            | render::Error::OutputInvalid(_) => Reason::RenderFailed,
            render::Error::PolicyViolated { .. } => Reason::PolicyViolation,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_spelled_as_documented() {
        let table = [
            (Reason::Ready, "Ready"),
            (Reason::Progressing, "Progressing"),
            (Reason::InvalidSpec, "InvalidSpec"),
            (Reason::RenderFailed, "RenderFailed"),
            (Reason::PolicyViolation, "PolicyViolation"),
            (Reason::AdoptionRefused, "AdoptionRefused"),
            (Reason::OwnershipConflict, "OwnershipConflict"),
            (Reason::KindNotServed, "KindNotServed"),
            (Reason::Forbidden, "Forbidden"),
            (Reason::ApplyFailed, "ApplyFailed"),
            (Reason::PruneFailed, "PruneFailed"),
            (Reason::EncodeFailed, "EncodeFailed"),
            (Reason::StatusWriteFailed, "StatusWriteFailed"),
            (Reason::Applied, "Applied"),
            (Reason::Pruned, "Pruned"),
            (Reason::Adopted, "Adopted"),
            (Reason::ChartReloadFailed, "ChartReloadFailed"),
            (Reason::Paused, "Paused"),
            (Reason::StatusComputed, "StatusComputed"),
            (Reason::StatusFailed, "StatusFailed"),
        ];
        for (reason, spelled) in table {
            assert_eq!(reason.as_str(), spelled);
            assert_eq!(reason.to_string(), spelled);
        }
    }

    #[test]
    fn render_failures_map_to_their_reasons() {
        let template = || render::TemplateError {
            file: "templates/a.yaml".into(),
            line: Some(1),
            column: None,
            message: "x".into(),
        };
        let table = [
            (render::Error::ResourceInvalid("x".into()), "InvalidSpec"),
            (
                render::Error::InvalidSpec {
                    schema: "values.schema.json".into(),
                    violations: Vec::new(),
                },
                "InvalidSpec",
            ),
            (
                render::Error::ChartInvalid {
                    errors: vec![template()],
                },
                "RenderFailed",
            ),
            (render::Error::TemplateFailed(template()), "RenderFailed"),
            (
                render::Error::OutputInvalid(render::DocumentError {
                    file: "templates/a.yaml".into(),
                    line: None,
                    message: "x".into(),
                }),
                "RenderFailed",
            ),
            (
                render::Error::PolicyViolated {
                    violations: Vec::new(),
                },
                "PolicyViolation",
            ),
        ];
        for (error, reason) in table {
            assert_eq!(Reason::of_render(&error).as_str(), reason, "{error:?}");
        }
    }
}
