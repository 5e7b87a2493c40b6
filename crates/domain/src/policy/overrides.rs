//! What-if: the same program with some values changed, for `POST
//! /subsidy/simulate`. The overrides are merged into the file as parsed and
//! the result is validated like a file, so a simulation can never run a
//! program that could not have been written.
//!
//! Top-level keys replace the file's. `rules` is a list of partial rules
//! matched by `id`: a known id changes that rule key by key (a new `rate`
//! drops the rule's tiers and the other way round), an unknown id adds a
//! rule. A JSON body becomes a `toml::Value` through serde.

use toml::{Table, Value};

use super::error::PolicyError;
use super::fields::describe;
use super::program::Program;

impl Program {
    pub fn with_overrides(&self, overrides: &Value) -> Result<Self, PolicyError> {
        let Value::Table(overrides) = overrides else {
            return Err(PolicyError::new("(overrides)", format!("expected a table, found {}", describe(overrides))));
        };
        let mut merged = self.source.clone();
        for (key, value) in overrides {
            match key.as_str() {
                "id" if value.as_str() != Some(self.id.as_str()) => {
                    return Err(PolicyError::new("id", "a simulation keeps the program's id"));
                }
                "rules" => merge_rules(&mut merged, value)?,
                _ => {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        Self::from_table(merged)
    }
}

fn merge_rules(merged: &mut Table, overrides: &Value) -> Result<(), PolicyError> {
    let Value::Array(overrides) = overrides else {
        return Err(PolicyError::new("rules", format!("expected a list of rules, found {}", describe(overrides))));
    };
    let mut rules = match merged.remove("rules") {
        Some(Value::Array(rules)) => rules,
        _ => Vec::new(),
    };
    for (index, change) in overrides.iter().enumerate() {
        let path = format!("rules[{index}]");
        let Value::Table(change) = change else {
            return Err(PolicyError::new(path, format!("expected a table, found {}", describe(change))));
        };
        let Some(id) = change.get("id").and_then(Value::as_str) else {
            return Err(PolicyError::new(format!("{path}.id"), "missing; it names the rule to change or add"));
        };
        let existing = rules.iter_mut().find_map(|rule| match rule {
            Value::Table(rule) if rule.get("id").and_then(Value::as_str) == Some(id) => Some(rule),
            _ => None,
        });
        match existing {
            Some(rule) => {
                // TOML has no null to remove a key with, so a new schedule
                // replaces the old one whole.
                if change.contains_key("rate") {
                    rule.remove("tiers");
                    rule.remove("tier_mode");
                }
                if change.contains_key("tiers") {
                    rule.remove("rate");
                }
                for (key, value) in change {
                    rule.insert(key.clone(), value.clone());
                }
            }
            None => rules.push(Value::Table(change.clone())),
        }
    }
    merged.insert("rules".to_string(), Value::Array(rules));
    Ok(())
}
