//! The built-in runtime, every agent's default. It does no AI work: it records what
//! arrived, proving the payload reached the worker intact (its SHA-256 is of the exact bytes
//! that were signed).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::jobs::runner::{AgentRunner, RunError, RunInput};

#[derive(Debug, Default)]
pub struct BuiltinRunner {
    /// Waited before answering, to stand in for a runtime that waits on the network
    /// (`workers.builtin_runner_delay_ms`, for benchmarks and drills).
    pub delay: std::time::Duration,
}

#[fang::async_trait]
impl AgentRunner for BuiltinRunner {
    async fn run(&self, input: &RunInput) -> Result<Value, RunError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let top_level_keys: Vec<&String> = match &input.payload {
            Value::Object(map) => map.keys().collect(),
            _ => Vec::new(),
        };
        Ok(json!({
            "runner": "builtin",
            "agent_name": input.agent_name,
            "payload_bytes": input.raw_body.len(),
            "payload_sha256": hex::encode(Sha256::digest(&input.raw_body)),
            "top_level_keys": top_level_keys,
        }))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[tokio::test]
    async fn the_builtin_runner_describes_the_payload_it_got() {
        let raw = br#"{"ticket_id": 7, "title": "Printer on fire"}"#.to_vec();
        let input = RunInput {
            execution_id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            agent_id: Uuid::new_v4(),
            agent_name: "Triage".into(),
            system_prompt: String::new(),
            payload: serde_json::from_slice(&raw).unwrap(),
            raw_body: raw.clone(),
            delivery_id: None,
            attempt: 1,
            runtime: None,
            credentials: Default::default(),
        };
        let result = BuiltinRunner::default().run(&input).await.unwrap();
        assert_eq!(result["runner"], "builtin");
        assert_eq!(result["agent_name"], "Triage");
        assert_eq!(result["payload_bytes"], raw.len());
        assert_eq!(result["payload_sha256"], hex::encode(Sha256::digest(&raw)));
        let mut keys: Vec<String> =
            serde_json::from_value(result["top_level_keys"].clone()).unwrap();
        keys.sort();
        assert_eq!(keys, ["ticket_id", "title"]);

        let array = RunInput {
            payload: json!([1, 2]),
            ..input
        };
        assert_eq!(
            BuiltinRunner::default().run(&array).await.unwrap()["top_level_keys"],
            json!([])
        );
    }
}
