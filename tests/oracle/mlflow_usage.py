"""MLflow's own code as the oracle for token usage and cost (tests/tests/token_convention.rs).

Reads JSON cases on stdin: [{"api": "anthropic"|"openai", "usage": <the provider's usage object>,
"model": M, "provider": P}], and prints for each what MLflow's own integration records for that
response as `mlflow.chat.tokenUsage` (its Anthropic autolog, its OpenAI chat-completions autolog)
and MLflow's `cost_per_token` on those numbers: {"usage": {...}, "cost": [input_cost, output_cost]}.
Run with MLFLOW_MODEL_CATALOG_URI="" so the bundled catalog (the server's, offline) prices models.
"""
import json
import sys
from types import SimpleNamespace

from mlflow.anthropic.autolog import _parse_usage as anthropic_usage
from mlflow.openai.utils.chat_schema import _parse_chat_completion_usage as openai_usage
from mlflow.utils.providers import cost_per_token


def namespace(value):
    """The SDK response object the integrations read attributes from."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: namespace(v) for k, v in value.items()})
    return value


def recorded(case):
    usage = namespace(case["usage"])
    if case["api"] == "anthropic":
        return anthropic_usage(SimpleNamespace(usage=usage))
    return openai_usage(usage)


out = []
for case in json.load(sys.stdin):
    usage = recorded(case)
    cost = cost_per_token(
        case["model"],
        usage["input_tokens"],
        usage["output_tokens"],
        case["provider"],
        usage.get("cache_read_input_tokens"),
        usage.get("cache_creation_input_tokens"),
    )
    out.append({"usage": usage, "cost": cost})
json.dump(out, sys.stdout)
