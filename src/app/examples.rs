//! Example payload schemas offered in the schema editor.

pub const EXAMPLES: [(&str, &str); 3] = [
    ("ServiceDesk Plus ticket", SERVICEDESK_PLUS_TICKET),
    ("Jira issue", JIRA_ISSUE),
    ("Generic event", GENERIC_EVENT),
];

const SERVICEDESK_PLUS_TICKET: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ServiceDesk Plus ticket",
  "type": "object",
  "required": ["ticket_id", "subject", "priority", "requester"],
  "properties": {
    "ticket_id": { "type": "integer", "minimum": 1 },
    "subject": { "type": "string", "minLength": 1, "maxLength": 250 },
    "description": { "type": "string" },
    "priority": { "enum": ["Low", "Medium", "High", "Urgent"] },
    "status": { "enum": ["Open", "On Hold", "Resolved", "Closed"] },
    "requester": {
      "type": "object",
      "required": ["email"],
      "properties": {
        "name": { "type": "string" },
        "email": { "type": "string", "format": "email" }
      }
    },
    "created_time": { "type": "string", "format": "date-time" }
  }
}"#;

const JIRA_ISSUE: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Jira issue event",
  "type": "object",
  "required": ["webhookEvent", "issue"],
  "properties": {
    "webhookEvent": { "enum": ["jira:issue_created", "jira:issue_updated"] },
    "issue": {
      "type": "object",
      "required": ["key", "fields"],
      "properties": {
        "key": { "type": "string", "pattern": "^[A-Z][A-Z0-9]+-[0-9]+$", "examples": ["OPS-42"] },
        "fields": {
          "type": "object",
          "required": ["summary"],
          "properties": {
            "summary": { "type": "string", "minLength": 1 },
            "priority": { "type": "object", "properties": { "name": { "type": "string" } } },
            "labels": { "type": "array", "items": { "type": "string" } }
          }
        }
      }
    }
  }
}"#;

const GENERIC_EVENT: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Generic event",
  "type": "object",
  "required": ["event", "occurred_at"],
  "properties": {
    "event": { "type": "string", "minLength": 1 },
    "occurred_at": { "type": "string", "format": "date-time" },
    "source": { "type": "string" },
    "data": { "type": "object" }
  }
}"#;
