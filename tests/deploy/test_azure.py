"""deploy/azure: the Kusto queries and the README against the telemetry contract."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import bot_telemetry
from bot_telemetry import contract

from .files import AZURE, BOT_SERVICES, TOPOLOGIES, as_mapping, compose_project, load, merge

QUERIES = sorted((AZURE / "queries").glob("*.kql"))
TABLES = {"customEvents", "dependencies", "requests", "traces", "exceptions"}

#: Every custom event property key of the contract (botbuilder's camelCase names).
PROPERTY_KEYS = {
    value
    for name, value in vars(contract).items()
    if name.isupper()
    and isinstance(value, str)
    and not name.startswith("ATTR_")
    and value[:1].islower()
    and "." not in value
}
EVENT_NAMES = {
    contract.BOT_MESSAGE_RECEIVED,
    contract.BOT_MESSAGE_SEND,
    contract.BOT_MESSAGE_UPDATE,
    contract.BOT_MESSAGE_DELETE,
    contract.QNA_MESSAGE,
}


def code(path: Path) -> str:
    """The query without its // comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line.split("//", 1)[0] for line in lines)


def test_the_four_asked_for_queries_exist() -> None:
    names = {path.stem for path in QUERIES}
    assert {
        "messages-per-channel",
        "top-intents",
        "qna-answer-rate",
        "dependency-failures",
    } <= names, names


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_is_well_formed(path: Path) -> None:
    text = code(path)
    statements = [line.strip() for line in text.splitlines() if line.strip()]
    assert statements, "empty query"
    first = statements[0].split()[0]
    assert first in TABLES | {"let", "union"}, f"starts with {first!r}"
    for opening, closing in ("()", "[]", "{}"):
        assert text.count(opening) == text.count(closing), f"unbalanced {opening}{closing}"
    assert text.count('"') % 2 == 0, "unbalanced quotes"
    for table in re.findall(r"^\s*(?:union\s+)?([a-zA-Z]+)\s*$", text, flags=re.M):
        assert table in TABLES, table


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_reads_only_properties_our_events_carry(path: Path) -> None:
    text = code(path)
    keys = re.findall(r"customDimensions\.([A-Za-z_]\w*)", text)
    keys += re.findall(r"customDimensions\[\s*[\"']([^\"']+)[\"']\s*\]", text)
    for key in keys:
        assert key in PROPERTY_KEYS, f"{path.name}: customDimensions.{key} is not in the contract"
    for name in re.findall(r"name\s*==\s*\"([^\"]+)\"", text):
        assert name in EVENT_NAMES, name
    for listed in re.findall(r"name\s+in\s*\(([^)]*)\)", text):
        for name in re.findall(r"\"([^\"]+)\"", listed):
            assert name in EVENT_NAMES, name
    for prefix in re.findall(r"name\s+startswith\s+\"([^\"]+)\"", text):
        assert prefix == contract.LUIS_INTENT_PREFIX


def test_queries_use_the_keys_they_are_about() -> None:
    text = {path.stem: code(path) for path in QUERIES}
    assert f"customDimensions.{contract.CHANNEL_ID}" in text["messages-per-channel"]
    assert f"customDimensions.{contract.INTENT}" in text["top-intents"]
    assert f"customDimensions.{contract.ARTICLE_FOUND}" in text["qna-answer-rate"]
    assert "success == false" in text["dependency-failures"]


def readme() -> str:
    return (AZURE / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_query_file() -> None:
    listed = set(re.findall(r"`queries/([\w.-]+\.kql)`", readme()))
    assert listed == {path.name for path in QUERIES}


def test_readme_event_table_uses_contract_names_and_keys() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", readme(), flags=re.M)
    events = {name: re.findall(r"`(\w+)`", keys) for name, keys in rows}
    assert {
        contract.BOT_MESSAGE_RECEIVED,
        contract.BOT_MESSAGE_SEND,
        contract.QNA_MESSAGE,
        f"{contract.LUIS_INTENT_PREFIX}<Intent>",
    } <= set(events), set(events)
    for name, keys in events.items():
        if name.endswith(".kql"):
            continue
        assert keys and set(keys) <= PROPERTY_KEYS, (name, set(keys) - PROPERTY_KEYS)
    for key in contract.ACTIVITY_PROPERTIES:
        assert key in events[contract.BOT_MESSAGE_RECEIVED]


def test_readme_role_names_are_what_azure_monitor_computes() -> None:
    from azure.monitor.opentelemetry.exporter._utils import _get_cloud_role

    namespace = inspect.signature(bot_telemetry.configure).parameters["service_namespace"].default
    for service in BOT_SERVICES:
        handle = bot_telemetry.configure(
            service, span_exporters=[], log_exporters=[], metric_readers=[]
        )
        try:
            role = _get_cloud_role(handle.resource)
        finally:
            handle.shutdown()
        assert role == f"{namespace}.{service}"
        assert f"`{role}`" in readme(), role


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.name)
def test_compose_override_adds_the_connection_string_to_every_bot_process(
    topology: Path,
) -> None:
    override = load(AZURE / "compose.azure.yaml")
    assert set(override["services"]) == set(BOT_SERVICES)
    project = compose_project(topology)
    for name in BOT_SERVICES:
        merged = merge(
            as_mapping(project["services"][name]["environment"]),
            as_mapping(override["services"][name]["environment"]),
        )
        value = merged["APPLICATIONINSIGHTS_CONNECTION_STRING"]
        # Required: Compose stops with this message instead of starting without Azure.
        assert value.startswith("${APPLICATIONINSIGHTS_CONNECTION_STRING:?"), value
        assert merged["OTEL_EXPORTER_OTLP_ENDPOINT"], "the collector path stays"
