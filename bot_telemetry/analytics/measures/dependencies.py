"""Dependencies: dependencyCalls, tokenUsage.

A dependency call is a CLIENT or PRODUCER span naming its peer (``peer.service``,
``db.system.name``, ``server.address``, ...: the app map's node); it failed when its status
is ERROR. A model call is a CLIENT span described by OpenTelemetry's GenAI conventions
(``gen_ai.operation.name``, ``gen_ai.usage.*``), as ``llm_event_hooks`` describes it.
"""

from __future__ import annotations

from typing import Any

from ... import contract
from ...store.database import KIND_CLIENT, KIND_PRODUCER, STATUS_ERROR
from .context import SPANS
from .definition import COUNT, MILLISECONDS, Measure, Sql, Value, milliseconds, register


def _calls(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, peer AS dependency, count(*) AS calls,
       count(*) FILTER (WHERE status_code = {STATUS_ERROR}) AS failures,
       quantile_cont(duration_ns, [0.5, 0.95]) AS latency
FROM spans
WHERE kind IN ({KIND_CLIENT}, {KIND_PRODUCER}) AND peer IS NOT NULL AND {q.window("start_ns")}
  {q.filters}
GROUP BY bucket, dependency"""


def _call_values(raw: dict[str, Any]) -> dict[str, Any]:
    p50, p95 = raw["latency"] or (None, None)
    return {
        "calls": raw["calls"],
        "failures": raw["failures"],
        "p50Ms": milliseconds(p50),
        "p95Ms": milliseconds(p95),
    }


DEPENDENCY_CALLS = register(
    Measure(
        "dependencyCalls",
        "Calls to each dependency (the app map's node), those that failed, and the 50th and "
        "95th percentiles of their duration. serviceName narrows to one caller.",
        SPANS,
        keys=("dependency",),
        values=(
            Value("calls", COUNT, "calls"),
            Value("failures", COUNT, "calls whose span ended in ERROR"),
            Value("p50Ms", MILLISECONDS, "median duration"),
            Value("p95Ms", MILLISECONDS, "95th percentile duration"),
        ),
        sql=_calls,
        finish=_call_values,
    )
)


#: The conventions' span names are ``{operation} {model}``: the name is read before the JSON
#: of the attributes, which only model calls have to be parsed for.
_MODEL_OPERATIONS = ("chat", "embeddings", "text_completion", "generate_content")
_MODEL_CALL = " OR ".join(f"name LIKE '{operation}%'" for operation in _MODEL_OPERATIONS)


def _tokens(key: str) -> str:
    return f"coalesce(sum(TRY_CAST(attr(attributes, '{key}') AS BIGINT)), 0)"


def _token_usage(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket,
       coalesce(attr(attributes, '{contract.ATTR_GEN_AI_REQUEST_MODEL}'),
                attr(attributes, '{contract.ATTR_GEN_AI_RESPONSE_MODEL}')) AS model,
       count(*) AS calls,
       {_tokens(contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS)} AS inputTokens,
       {_tokens(contract.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS)} AS outputTokens
FROM spans
WHERE kind = {KIND_CLIENT} AND ({_MODEL_CALL}) AND {q.window("start_ns")}
  AND attr(attributes, '{contract.ATTR_GEN_AI_OPERATION_NAME}') IS NOT NULL
  {q.filters}
GROUP BY bucket, model"""


TOKEN_USAGE = register(
    Measure(
        "tokenUsage",
        "Model calls (CLIENT spans in OpenTelemetry's GenAI conventions: chat, embeddings) per "
        "requested model, and the input and output tokens they used (gen_ai.usage.*; a call "
        "that got no answer used none).",
        SPANS,
        keys=("model",),
        values=(
            Value("calls", COUNT, "model calls"),
            Value("inputTokens", COUNT, "input (prompt) tokens"),
            Value("outputTokens", COUNT, "output (completion) tokens"),
        ),
        sql=_token_usage,
    )
)
