//! One renderer per custom resource kind, loaded on first use from the mapping file's charts, or one chart for every resource.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use serde_json::Value;

use super::Renderer;
use crate::chart::Chart;
use crate::config::{Mapping, default_allowed_kinds};

/// Why no renderer could be found for a custom resource; every message names the input.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The chart could not be loaded.
    #[error(transparent)]
    ChartLoadFailed(#[from] crate::chart::Error),
    /// The chart loaded but cannot render (its templates or schema do not compile).
    #[error(transparent)]
    RendererFailed(#[from] super::Error),
    /// The document has no `apiVersion` or no `kind`.
    #[error("{origin}: not a Kubernetes object (apiVersion and kind are required)")]
    NotAnObject {
        /// Where the document came from.
        origin: String,
    },
    /// No mapping entry serves the document's kind.
    #[error("{origin}: no entry for {api_version} {kind} in {mapping}")]
    KindNotMapped {
        /// Where the document came from.
        origin: String,
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
        /// The mapping file.
        mapping: String,
    },
}

/// Where renderers come from: the mapping (one per mapped kind, loaded when first asked for)
/// or a single chart for every resource.
pub enum Renderers {
    /// Every resource renders with this chart, with the default allowed kinds and no overrides.
    Fixed(Box<Renderer>),
    /// Each resource renders with the chart its kind is mapped to.
    Mapped {
        /// The mapping file.
        mapping: Mapping,
        /// The renderers loaded so far, by (apiVersion, kind).
        loaded: HashMap<(String, String), Renderer>,
    },
}

impl Renderers {
    /// Every resource rendered with the chart in `dir`.
    pub fn for_chart(dir: &Path) -> Result<Self, LookupError> {
        let renderer = Renderer::with_settings(
            Chart::load(dir)?,
            default_allowed_kinds(),
            Value::Object(Default::default()),
        )?;
        Ok(Self::Fixed(Box::new(renderer)))
    }

    /// Each resource rendered with the chart `mapping` gives its kind.
    pub fn for_mapping(mapping: Mapping) -> Self {
        Self::Mapped {
            mapping,
            loaded: HashMap::new(),
        }
    }

    /// The renderer of custom resource `resource`, read from `origin` (for messages).
    pub fn renderer_for(
        &mut self,
        resource: &Value,
        origin: &str,
    ) -> Result<&Renderer, LookupError> {
        let (mapping, loaded) = match self {
            Self::Fixed(renderer) => return Ok(renderer),
            Self::Mapped { mapping, loaded } => (mapping, loaded),
        };
        let field = |name: &str| resource.get(name).and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            return Err(LookupError::NotAnObject {
                origin: origin.to_string(),
            });
        };
        match loaded.entry((api_version.to_string(), kind.to_string())) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let watch =
                    mapping
                        .find(api_version, kind)
                        .ok_or_else(|| LookupError::KindNotMapped {
                            origin: origin.to_string(),
                            api_version: api_version.to_string(),
                            kind: kind.to_string(),
                            mapping: mapping.path.display().to_string(),
                        })?;
                let renderer = Renderer::new(Chart::load(&watch.chart_dir)?, watch)?;
                Ok(entry.insert(renderer))
            }
        }
    }
}
