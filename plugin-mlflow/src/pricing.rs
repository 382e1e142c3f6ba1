//! Model prices, for model calls whose host reported tokens but no cost.
//!
//! USD per million tokens, list prices of the providers as published in 2025-2026 (standard tier,
//! prompts up to 200k tokens). The configuration's `pricing` extends or overrides them per model.
//! A model with no known price gets no cost: an invented one would be worse than none.

/// Costs are attached to spans and logged as metrics rounded to this many decimal places of a US
/// dollar: a ten-billionth, far below any one token's price, so float noise such as
/// `0.06248029999999999` never reaches MLflow.
pub const COST_DECIMALS: i32 = 10;

/// `usd` rounded to `COST_DECIMALS` places.
pub fn round_usd(usd: f64) -> f64 {
    let scale = 10f64.powi(COST_DECIMALS);
    (usd * scale).round() / scale
}

use crate::tokens::Tokens;
use openclaw_plugin_api::ModelCost;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// When absent, cache reads are billed as input.
    pub cache_read: Option<f64>,
    /// When absent, cache writes are billed as input.
    pub cache_write: Option<f64>,
}

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelPrice {
    ModelPrice { input, output, cache_read: Some(cache_read), cache_write: Some(cache_write) }
}

/// (model id, price). Matched exactly, else by the longest id that the model name starts with
/// (so `claude-sonnet-4-5-20250929` finds `claude-sonnet-4-5`).
const BUILTIN: &[(&str, ModelPrice)] = &[
    // Anthropic: cache write = 5-minute cache (1.25x input), cache read = 0.1x input.
    ("claude-opus-4-5", p(5.0, 25.0, 0.50, 6.25)),
    ("claude-opus-4-1", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-sonnet-4-5", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-haiku-4-5", p(1.0, 5.0, 0.10, 1.25)),
    ("claude-3-5-haiku", p(0.80, 4.0, 0.08, 1.0)),
    // OpenAI: cached input; no separate cache-write charge.
    ("gpt-5", p(1.25, 10.0, 0.125, 1.25)),
    ("gpt-5-mini", p(0.25, 2.0, 0.025, 0.25)),
    ("gpt-5-nano", p(0.05, 0.40, 0.005, 0.05)),
    ("gpt-4.1", p(2.0, 8.0, 0.50, 2.0)),
    ("gpt-4.1-mini", p(0.40, 1.60, 0.10, 0.40)),
    ("gpt-4.1-nano", p(0.10, 0.40, 0.025, 0.10)),
    ("gpt-4o", p(2.50, 10.0, 1.25, 2.50)),
    ("gpt-4o-mini", p(0.15, 0.60, 0.075, 0.15)),
    ("o3", p(2.0, 8.0, 0.50, 2.0)),
    ("o4-mini", p(1.10, 4.40, 0.275, 1.10)),
    // Google: context-cache reads; cache storage is billed by time, not per call.
    ("gemini-2.5-pro", p(1.25, 10.0, 0.125, 1.25)),
    ("gemini-2.5-flash", p(0.30, 2.50, 0.03, 0.30)),
    ("gemini-2.5-flash-lite", p(0.10, 0.40, 0.01, 0.10)),
    ("gemini-2.0-flash", p(0.10, 0.40, 0.025, 0.10)),
];

#[derive(Clone, Debug)]
pub struct PriceTable {
    prices: HashMap<String, ModelPrice>,
}

impl PriceTable {
    /// A closing model call's cost and who gave it: the host's figure where it gave one
    /// ("host"), else the table's when the model has a known price ("price_table"), else none.
    pub fn price_call(
        &self,
        model: &str,
        usage: Option<&Tokens>,
        host_cost: Option<ModelCost>,
    ) -> (Option<ModelCost>, Option<&'static str>) {
        match (host_cost, usage.and_then(|u| self.cost(model, u))) {
            (Some(cost), _) => (Some(cost), Some("host")),
            (None, Some(priced)) => (Some(priced), Some("price_table")),
            (None, None) => (None, None),
        }
    }

    pub fn builtin() -> PriceTable {
        PriceTable { prices: BUILTIN.iter().map(|(m, p)| (m.to_string(), *p)).collect() }
    }

    pub fn set(&mut self, model: &str, price: ModelPrice) {
        self.prices.insert(normalise(model), price);
    }

    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        let model = normalise(model);
        if let Some(price) = self.prices.get(&model) {
            return Some(price);
        }
        self.prices
            .iter()
            .filter(|(id, _)| model.starts_with(id.as_str()) && model[id.len()..].starts_with(['-', '@', ':']))
            .max_by_key(|(id, _)| id.len())
            .map(|(_, price)| price)
    }

    /// The cost of `usage` on `model`, or `None` when the model has no known price. Each portion
    /// of the prompt at its own rate: fresh input, cache reads, cache writes.
    pub fn cost(&self, model: &str, usage: &Tokens) -> Option<ModelCost> {
        let price = self.price(model)?;
        let per = |tokens: u64, usd_per_million: f64| tokens as f64 * usd_per_million / 1e6;
        let input = per(usage.fresh_input(), price.input);
        let output = per(usage.output, price.output);
        let cache_read = per(usage.cache_read, price.cache_read.unwrap_or(price.input));
        let cache_write = per(usage.cache_write, price.cache_write.unwrap_or(price.input));
        Some(ModelCost { input, output, cache_read, cache_write, total: input + output + cache_read + cache_write })
    }
}

/// `anthropic/claude-sonnet-4-5` and `Claude-Sonnet-4-5` name the same model.
fn normalise(model: &str) -> String {
    model.rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fresh` input beside the cache counts, as OpenClaw reports them.
    fn usage(fresh: u64, output: u64, cache_read: u64, cache_write: u64) -> Tokens {
        Tokens { input: fresh + cache_read + cache_write, output, cache_read, cache_write }
    }

    #[test]
    fn dated_and_provider_prefixed_names_find_their_model() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("claude-sonnet-4-5-20250929"), t.price("claude-sonnet-4-5"));
        assert_eq!(t.price("anthropic/claude-haiku-4-5"), t.price("claude-haiku-4-5"));
        // gpt-5-mini must not be priced as gpt-5.
        assert_eq!(t.price("gpt-5-mini").unwrap().input, 0.25);
    }

    #[test]
    fn costs_are_rounded_to_a_ten_billionth_of_a_dollar_without_float_noise() {
        assert_eq!(round_usd(0.06248029999999999), 0.0624803);
        assert_eq!(round_usd(0.1 + 0.2), 0.3);
        assert_eq!(round_usd(1.5e-7 * 3.0), 4.5e-7, "a few cheap tokens keep their cost");
        assert_eq!(round_usd(0.0), 0.0);
    }

    #[test]
    fn cost_includes_cache_reads_and_writes_at_their_own_prices() {
        let c = PriceTable::builtin().cost("claude-sonnet-4-5", &usage(1_000_000, 100_000, 2_000_000, 10_000)).unwrap();
        assert!((c.input - 3.0).abs() < 1e-9);
        assert!((c.output - 1.5).abs() < 1e-9);
        assert!((c.cache_read - 0.6).abs() < 1e-9);
        assert!((c.cache_write - 0.0375).abs() < 1e-9);
        assert!((c.total - 5.1375).abs() < 1e-9);
    }

    #[test]
    fn unknown_models_get_no_cost_and_configuration_can_add_them() {
        let mut t = PriceTable::builtin();
        assert!(t.cost("mock-model", &usage(10, 10, 0, 0)).is_none());
        t.set("mock-model", ModelPrice { input: 1.0, output: 2.0, cache_read: None, cache_write: None });
        let c = t.cost("mock/mock-model", &usage(1_000_000, 1_000_000, 1_000_000, 0)).unwrap();
        assert!((c.total - 4.0).abs() < 1e-9, "cache reads default to the input price: {c:?}");
    }
}
