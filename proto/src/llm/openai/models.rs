//! `GET /v1/models`: the models a consumer may use.

use serde::{Deserialize, Serialize};

/// The models list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
}

impl ModelList {
    /// A list of `models`.
    pub fn new(models: Vec<Model>) -> Self {
        Self {
            object: "list".to_owned(),
            data: models,
        }
    }
}

/// One model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// The name clients put in `model`.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix seconds (the config's load time for gateway aliases).
    pub created: u64,
    /// Organisation that owns it, e.g. the provider name.
    pub owned_by: String,
}

impl Model {
    /// A model entry.
    pub fn new(id: impl Into<String>, created: u64, owned_by: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            object: "model".to_owned(),
            created,
            owned_by: owned_by.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_openai() {
        let list = ModelList::new(vec![Model::new("gpt-4o", 1_700_000_000, "openai")]);
        let json = serde_json::to_value(&list).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({"object":"list","data":[
                {"id":"gpt-4o","object":"model","created":1_700_000_000u64,"owned_by":"openai"}]})
        );
    }
}
