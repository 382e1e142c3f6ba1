//! Token counts in one convention, decided once where a model call's usage enters the assembler.
//!
//! The convention is MLflow's and OpenTelemetry's GenAI one: `input` is the whole prompt, cache
//! reads and cache writes included, the cache counts are portions of it, and total = input + output.
//! MLflow's own integrations record it so (its Anthropic autolog adds the cache tokens to
//! `input_tokens`, its OpenAI autolog keeps `prompt_tokens`), and its server's cost estimate treats
//! `input_tokens` as the whole prompt.
//!
//! What hosts report differs:
//! - OpenClaw (every provider, through its model layer) and Anthropic's API report `input` WITHOUT
//!   cache reads and writes, and OpenClaw's `totalTokens` = input + output + cache read + write;
//! - OpenAI's and Gemini's APIs report the prompt WITH cached tokens (`prompt_tokens` includes
//!   `cached_tokens`), and total = prompt + completion; a host that passes those through as
//!   `input` gives a total equal to input + output.
//!
//! The interface's `TokenUsage` cannot say which, so the reported total decides: when it equals
//! input + output, the cache counts fit inside the input, and there is a cache count at all, the
//! input already holds the cache (OpenAI style); otherwise (OpenClaw style, a missing total, or a
//! total that agrees with neither) the cache counts are added to the input, as OpenClaw documents.
//! The total is always recomputed from the parts, so input + output = total on every span.

use openclaw_plugin_api::TokenUsage;

/// One model call's tokens in MLflow's convention (see the module comment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    /// The whole prompt: fresh input + cache reads + cache writes.
    pub input: u64,
    pub output: u64,
    /// The part of `input` read from the provider's prompt cache.
    pub cache_read: u64,
    /// The part of `input` written to the provider's prompt cache.
    pub cache_write: u64,
}

impl Tokens {
    /// The host's report, normalized.
    pub fn from_host(reported: &TokenUsage) -> Tokens {
        let cached = reported.cache_read.saturating_add(reported.cache_write);
        let input_holds_cache =
            cached > 0 && cached <= reported.input && reported.total == reported.input.saturating_add(reported.output);
        Tokens {
            input: if input_holds_cache { reported.input } else { reported.input.saturating_add(cached) },
            output: reported.output,
            cache_read: reported.cache_read,
            cache_write: reported.cache_write,
        }
    }

    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// The input not served from or written to the cache, priced at the plain input rate.
    pub fn fresh_input(&self) -> u64 {
        self.input.saturating_sub(self.cache_read).saturating_sub(self.cache_write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(input: u64, output: u64, cache_read: u64, cache_write: u64, total: u64) -> Tokens {
        Tokens::from_host(&TokenUsage { input, output, cache_read, cache_write, total })
    }

    fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Tokens {
        Tokens { input, output, cache_read, cache_write }
    }

    #[test]
    fn openclaw_and_anthropic_style_input_gains_the_cache() {
        // The example: 2,150 fresh, 11,800 cache reads, 96 output; OpenClaw's total.
        let t = reported(2150, 96, 11_800, 0, 14_046);
        assert_eq!(t, tokens(13_950, 96, 11_800, 0));
        assert_eq!((t.total(), t.fresh_input()), (14_046, 2150));
        let t = reported(2150, 96, 11_800, 300, 14_346);
        assert_eq!((t.input, t.total(), t.fresh_input()), (14_250, 14_346, 2150));
    }

    #[test]
    fn openai_style_input_already_holds_the_cache() {
        // prompt_tokens 13,950 of which 11,800 cached; total = prompt + completion.
        let t = reported(13_950, 96, 11_800, 0, 14_046);
        assert_eq!(t, tokens(13_950, 96, 11_800, 0));
        assert_eq!(t.fresh_input(), 2150);
    }

    #[test]
    fn a_missing_or_disagreeing_total_follows_openclaws_convention_and_is_recomputed() {
        assert_eq!(reported(100, 10, 50, 0, 0), tokens(150, 10, 50, 0));
        assert_eq!(reported(100, 10, 50, 5, 999), tokens(155, 10, 50, 5));
        assert_eq!(reported(100, 10, 50, 5, 999).total(), 165);
        // Cache counts larger than the input cannot be portions of it.
        assert_eq!(reported(10, 5, 50, 0, 15), tokens(60, 5, 50, 0));
    }

    #[test]
    fn without_cache_both_conventions_agree() {
        assert_eq!(reported(100, 10, 0, 0, 110), tokens(100, 10, 0, 0));
        assert_eq!(reported(100, 10, 0, 0, 0), tokens(100, 10, 0, 0));
        assert_eq!(reported(0, 0, 0, 0, 0).total(), 0);
    }

    #[test]
    fn absurd_counts_saturate_instead_of_wrapping() {
        let t = reported(u64::MAX, 1, 1, 0, 0);
        assert_eq!((t.input, t.total()), (u64::MAX, u64::MAX));
    }
}
