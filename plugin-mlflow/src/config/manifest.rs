//! The package manifest's configuration schema (`package/openclaw.plugin.json`), built into the
//! plugin: the one place each setting's default and range are written. The gateway checks a
//! configuration against this schema before the plugin starts; `validate` reads the same rules
//! from it, so the two cannot drift apart.

use serde_json::Value;
use std::sync::LazyLock;

static CONFIG_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let manifest: Value = serde_json::from_str(include_str!("../../../package/openclaw.plugin.json"))
        .expect("the package manifest built into the plugin is JSON");
    manifest["configSchema"].clone()
});

/// What the schema says of one setting (`batchSize`, `otlp.sampleRate`).
pub struct Rule {
    key: &'static str,
    schema: &'static Value,
}

/// The rule of `key` (dotted for a nested section). A key the schema lacks is a bug in the
/// plugin, caught by the unit tests that build the default configuration.
pub fn rule(key: &'static str) -> Rule {
    let schema = key.split('.').fold(&*CONFIG_SCHEMA, |section, name| &section["properties"][name]);
    assert!(schema.is_object(), "the package manifest's configSchema has no setting `{key}`");
    Rule { key, schema }
}

impl Rule {
    fn number(&self, what: &str) -> &'static Value {
        let value = &self.schema[what];
        assert!(value.is_number(), "the package manifest gives `{}` no {what}", self.key);
        value
    }

    fn whole(&self, what: &str) -> u64 {
        let n = self.number(what).as_u64();
        n.unwrap_or_else(|| panic!("the package manifest's {what} of `{}` is not a whole number", self.key))
    }

    pub fn default_flag(&self) -> bool {
        let default = self.schema["default"].as_bool();
        default.unwrap_or_else(|| panic!("the package manifest gives `{}` no true/false default", self.key))
    }

    pub fn default_whole(&self) -> u64 {
        self.whole("default")
    }

    pub fn minimum_whole(&self) -> u64 {
        self.whole("minimum")
    }

    pub fn maximum_whole(&self) -> u64 {
        self.whole("maximum")
    }

    /// The range of a fractional setting.
    pub fn range(&self) -> (f64, f64) {
        let bound = |what| self.number(what).as_f64().unwrap_or(f64::NAN);
        (bound("minimum"), bound("maximum"))
    }
}
