"""The ids of the people this project's bots serve, in India and in Europe: Aadhaar numbers,
Indian mobile numbers typed as bare digits, UPI payment addresses, PAN and IBANs.

Each went out as it was, under a key the policy had never seen and in text that personal
data may be logged in: none looks like an email, a card, or a phone number written with
``+`` or separators. Through a real bot (CloudAdapter over HTTP, ``TelemetryMiddleware``,
the client's ``track_event``, ``track_trace`` and a failing turn) to the OTLP encoders,
and the lookalikes that must survive (amounts, counts, epochs, order numbers, hex ids).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from botbuilder.core import TurnContext
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy, configure
from bot_telemetry.privacy.detection import is_aadhaar, is_iban, personal
from tests.bot.harness import running_bot

OPENED = PrivacyPolicy(log_personal_information=True)

#: Single tokens a bot hands over under keys of its own; each is someone's.
IDS = {
    "aadhaar": "498712365400",  # passes the Verhoeff check, as every Aadhaar number does
    "msisdn": "9876543210",  # an Indian mobile number, as typed
    "whatsapp": "919876543210",  # the same with the country code, as WhatsApp APIs give it
    "landline": "09876543210",  # with the trunk prefix
    "vid": "9176543210987651",  # an Aadhaar virtual id: 16 digits, Verhoeff too
    "abroad": "00442079460958",  # an international call's 00, without separators
    "uk_mobile": "07700900123",  # a British mobile number, as typed
    "fr_mobile": "0612345678",  # a French one
    "vpa": "grace.h@okaxis",  # a UPI payment address
    "payee": "9876543210@ybl",
    "pan": "ABCPD1234F",
    "account": "DE89370400440532013000",  # an IBAN, compact
    "iban_gb": "GB82WEST12345698765432",
    "iban_fr": "FR1420041010050500013M02606",
}

#: The same people's ids in a sentence (written with the spaces people use).
SENTENCES = {
    "pay grace.h@okaxis: thanks": "grace.h@okaxis",
    "PAN ABCPD1234F on file": "ABCPD1234F",
    "my pan is abcpd1234f": "abcpd1234f",
    "IBAN DE89 3704 0044 0532 0130 00 (EUR)": "DE89 3704 0044 0532 0130 00",
    "to NL91ABNA0417164300 please": "NL91ABNA0417164300",
    "rent to GB82 WEST 1234 5698 7654 32 monthly": "GB82 WEST 1234 5698 7654 32",
}

#: What a bot's properties are full of, none of it anyone's: kept under unknown keys and
#: left alone in text.
ORDINARY = [
    "498712365401",  # 12 digits failing the Verhoeff check: an order number
    "123456789012",
    "48213579",  # an order number
    "125000000",  # an amount in paise (Rs 12.5 lakh)
    "3456789",  # a count
    "5123456789",  # 10 digits, not from 6-9: no Indian mobile number
    "1714567890",  # epoch seconds
    "1714567890123",  # epoch milliseconds
    "5000000",  # an amount
    "42",
    "0.8446753",
    "4bf92f3577b34da6a3ce929d0e0e4736",  # a trace id
    "00f067aa0ba902b7",
    "ORD-2024-000123",
    "PB-PGR-2024-05-01-000123",  # a DIGIT complaint number
    "pb.amritsar",  # a DIGIT tenant
    "DE89370400440532013001",  # an IBAN's shape, failing mod 97
    "XX89370400440532013000",  # no such country
    "ABCDE12345",
    "botbuilder-core@4.14.0",
    "mcr.microsoft.com/bot@sha256:4bf92f3577b34da6",
    "19:3fJk2lmnOPqrSTuv@thread.tacv2",
    "2024-05-01T12:34:56.789Z",
]


def test_the_validators() -> None:
    assert is_aadhaar("498712365400") and not is_aadhaar("498712365401")
    assert is_aadhaar("9176543210987651") and not is_aadhaar("9176543210987652")  # a VID
    assert not is_aadhaar("098712365400")  # no Aadhaar number starts with 0 or 1
    assert is_iban("DE89 3704 0044 0532 0130 00") and not is_iban("DE89 3704 0044 0532 0130 01")


@pytest.mark.parametrize("key, value", IDS.items())
def test_an_id_under_an_unknown_key_is_left_out(key: str, value: str) -> None:
    assert personal(value)
    assert PrivacyPolicy().apply({f"{key}Value": value, "turns": 3}) == {"turns": 3}


@pytest.mark.parametrize("text, secret", SENTENCES.items())
def test_an_id_in_allowed_text_is_redacted(text: str, secret: str) -> None:
    redacted = OPENED.redact_text(text)
    assert secret not in redacted and "[REDACTED]" in redacted
    # the words around it stay
    assert redacted.split()[0] == text.split()[0]


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_values_are_kept(value: str) -> None:
    assert not personal(value)
    assert PrivacyPolicy().apply({"orderRef": value}) == {"orderRef": value}
    text = f"order {value} shipped"
    assert OPENED.redact_text(text) == text


# --- through a real bot, to the OTLP encoders -------------------------------------------------

Exported = Callable[[], Awaitable[bytes]]


@pytest.fixture
async def otlp(request: pytest.FixtureRequest) -> AsyncIterator[Exported]:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    handle = configure(
        "bot",
        privacy=getattr(request, "param", None),
        span_exporters=[spans],
        log_exporters=[logs],
        metric_readers=[InMemoryMetricReader()],  # none given: the OTLP default, retrying
    )

    async def exported() -> bytes:
        assert handle.force_flush(10_000)
        found = encode_spans(list(spans.get_finished_spans())).SerializeToString()
        return found + encode_logs(list(logs.get_finished_logs())).SerializeToString()

    try:
        yield exported
    finally:
        handle.shutdown()


async def converse(exported: Exported) -> bytes:
    client = OpenTelemetryBotTelemetryClient()

    async def logic(context: TurnContext) -> None:
        # a DIGIT-style bot recording what it collected, under keys of its own
        form = json.dumps({"firstName": "Asha", "district": "Pune"})
        client.track_event(
            "Applied", {**IDS, "orderRef": "498712365401", "ward": "pb.amritsar", "form": form}
        )
        client.track_trace(f"payment from {IDS['vpa']} for PAN {IDS['pan']} sent")
        if context.activity.text == "fail":
            raise ValueError(f"no account {IDS['iban_gb']} for {IDS['vpa']}")

    async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
        statuses = []
        for text in ("apply", "fail"):
            async with http.post(bot.url, json=bot.activity(text, "conv-1")) as response:
                statuses.append(response.status)
    assert statuses == [201, 500]
    return await exported()


def assert_no_ids(data: bytes) -> None:
    assert b"Applied" in data and b"ValueError" in data
    for value in IDS.values():
        assert value.encode() not in data, value


async def test_default_policy_exports_none_of_the_ids(otlp: Exported) -> None:
    data = await converse(otlp)
    assert_no_ids(data)
    # the developer's words stay, the ordinary values too
    assert b"payment from [REDACTED] for PAN [REDACTED] sent" in data
    assert b"498712365401" in data and b"pb.amritsar" in data
    # a form's JSON keeps its district, not the first name its key names
    assert b"Pune" in data and b"Asha" not in data


@pytest.mark.parametrize("otlp", [OPENED], indirect=True)
async def test_opened_policy_exports_the_ids_redacted(otlp: Exported) -> None:
    data = await converse(otlp)
    assert_no_ids(data)
    # the exception's message is there, without the ids it quotes
    assert b"no account [REDACTED] for [REDACTED]" in data


async def exported_turn(
    exported: Exported, logic: Callable[[TurnContext], Awaitable[None]]
) -> bytes:
    async with running_bot(logic) as bot, aiohttp.ClientSession() as http:
        async with http.post(bot.url, json=bot.activity("go", "conv-1")) as response:
            assert response.status == 201
    return await exported()


@pytest.mark.parametrize("otlp", [OPENED], indirect=True)
async def test_numbers_in_allowed_text_are_kept_beside_the_phone_numbers(otlp: Exported) -> None:
    # Where personal data may be logged, an order number, an amount in paise and a count
    # in a trace or a property were redacted as phone numbers (any 7-12 bare digits).
    client = OpenTelemetryBotTelemetryClient()
    numbers = (
        "order 48213579: 125000000 paise (Rs 1 250 000), views 3456789 1250000, "
        "paid in two: 1250000 123456"
    )

    async def logic(context: TurnContext) -> None:
        client.track_event("Paid", {"summary": numbers, "orderNo": "48213579"})
        client.track_trace(
            f"{numbers}, paid by 9876543210 1250000 from +44 20 7946 0958, 9876543210 123456"
        )

    data = await exported_turn(otlp, logic)
    assert data.count(numbers.encode()) >= 2  # the event's property and the trace message
    assert b"48213579" in data
    assert b"9876543210" not in data and b"7946" not in data
    trace = f"{numbers}, paid by [REDACTED] 1250000 from [REDACTED], [REDACTED] 123456"
    assert trace.encode() in data


#: A user's public addresses, and what shares their shape without being anyone's.
PUBLIC_ADDRESSES = [
    "49.36.128.17",
    "49.36.128.18:52114",
    "2405:201:abcd:1234::1",
    # link-local and private, but with the device's MAC in them (EUI-64: ff:fe in the middle)
    "fe80::21a:2bff:fe3c:4d5e",
    "[fd12:3456:789a:1:21a:2bff:fe3c:4d5f]:443",
]
NOT_ADDRESSES = {
    "appVersion": "4.17.1.2",  # a version under a key that says so
    "browser": "131.0.0.0",  # Chrome's reduced user agent version: a network, not a host
    "upstream": "10.0.0.5",  # a deployment's own private address
    "loopback": "::1",
    "linkLocal": "fe80::1",  # no MAC in it
    "mapped": "::ffff:254.1.2.3",  # ff, fe in the middle, but a reserved v4 address
    "build": "10.0.19041.1234",  # a part over 255
    "at": "12:34:56",
}


@pytest.mark.parametrize("value", PUBLIC_ADDRESSES)
def test_a_public_ip_address_is_personal(value: str) -> None:
    assert personal(value)


@pytest.mark.parametrize("key, value", NOT_ADDRESSES.items())
def test_what_only_looks_like_an_ip_address_is_kept(key: str, value: str) -> None:
    assert PrivacyPolicy().apply({key: value}) == {key: value}


async def test_ip_addresses_under_unknown_keys_stay_in_the_bot(otlp: Exported) -> None:
    # A user's IP address under a key that does not name it (origin, peer, forwardedFor)
    # is an online identifier; it went out as a single token.
    client = OpenTelemetryBotTelemetryClient()
    found = {f"seen{index}": value for index, value in enumerate(PUBLIC_ADDRESSES)}

    async def logic(context: TurnContext) -> None:
        client.track_event("Connected", {**found, **NOT_ADDRESSES, "pkg": "4.17.1.2"})

    data = await exported_turn(otlp, logic)
    assert b"Connected" in data
    for value in PUBLIC_ADDRESSES:
        assert value.encode() not in data, value
    for value in NOT_ADDRESSES.values():
        assert value.encode() in data, value
    # the same quad under a key that does not say it is a version is taken for an address
    assert data.count(b"4.17.1.2") == data.count(b"appVersion")


@pytest.mark.parametrize("value", ["SW1A1AA", "sw1a1aa", "EC1A1BB", "M11AE", "DN551PT"])
def test_a_british_postcode_in_one_token_is_personal(value: str) -> None:
    # some 40 people share one; written with its space it is free text already
    assert personal(value) and personal(f"{value[:-3]} {value[-3:]}")


@pytest.mark.parametrize("value", ["XY12AB", "AB12CD", "SW1A1AC", "560001", "ORD12"])
def test_what_only_looks_like_a_postcode_is_not(value: str) -> None:
    # no such area, an inward code's letter never used (C), an Indian PIN: a district's
    # area of ~70,000 people, kept like the district itself
    assert not personal(value)


async def test_a_postcode_under_an_unknown_key_stays_in_the_bot(otlp: Exported) -> None:
    client = OpenTelemetryBotTelemetryClient()

    async def logic(context: TurnContext) -> None:
        client.track_event("Delivery", {"deliverTo": "SW1A1AA", "pin": "560001", "sku": "XY12AB"})

    data = await exported_turn(otlp, logic)
    assert b"Delivery" in data and b"560001" in data and b"XY12AB" in data
    assert b"SW1A1AA" not in data


@pytest.mark.parametrize(
    "key", ["aadhaarNumber", "aadhar_no", "msisdn", "beneficiaryMsisdn", "dob", "clientIp", "vpa"]
)
def test_keys_naming_these_ids_are_personal(key: str) -> None:
    # by name, whatever the value looks like (a date of birth is a date; an IP, a dotted number)
    assert PrivacyPolicy().apply({key: "1990-05-01", "turns": 3}) == {"turns": 3}


@pytest.mark.parametrize("key", ["tooltip", "membership", "timeSpan", "dobbin", "zipCode"])
def test_keys_that_only_end_like_them_are_judged_by_value(key: str) -> None:
    assert PrivacyPolicy().apply({key: "v1"}) == {key: "v1"}


@pytest.mark.parametrize(
    "value", ["/pay?mobile=9876543210", "tel:9876543210", "whatsapp:919876543210"]
)
def test_a_mobile_number_inside_a_token_is_found(value: str) -> None:
    assert personal(value)
    assert PrivacyPolicy().apply({"link": value}) == {}


@pytest.mark.parametrize("policy", [PrivacyPolicy(), OPENED], ids=["default", "opened"])
def test_a_key_that_is_itself_an_id_is_left_out(policy: PrivacyPolicy) -> None:
    # a bot's map keyed by its users: the key is the personal data
    scores = {"grace@example.org": 3, "9876543210": 2, "grace.h@okaxis": 1, "ABCPD1234F": 1}
    assert policy.apply({**scores, "stars": 4, "order_2024_05": "ok"}) == {
        "stars": 4,
        "order_2024_05": "ok",
    }
    # unless the developer lists it
    listed = PrivacyPolicy(allow_keys=frozenset({"9876543210"}))
    assert listed.apply({"9876543210": 2}) == {"9876543210": 2}


def test_an_epoch_in_seconds_in_allowed_text_is_not_a_phone_number() -> None:
    # 10 digits from 1: no North American, Indian or British number starts so
    text = "token for 9876543210 expired at 1714567890"
    assert OPENED.redact_text(text) == "token for [REDACTED] expired at 1714567890"


def test_members_of_json_under_an_unknown_key_are_judged_by_their_keys_too() -> None:
    # a form dumped as JSON: a single-word name under "firstName" is a token to the value
    # rule, but its key says what it is, as it would at the top level
    form = {"firstName": "Asha", "district": "Pune", "userId": "29:1raw", "stars": 4, "n": None}
    policy = PrivacyPolicy(pseudonymization_key=b"k")
    judged = json.loads(policy.apply({"form": json.dumps(form)})["form"])
    assert judged == {
        "firstName": None,
        "district": "Pune",
        "userId": policy.pseudonymize("29:1raw"),
        "stars": 4,
        "n": None,
    }
    assert policy.apply({"form": form})["form"] == judged  # a dict the same
    assert policy.apply({"forms": [form]})["forms"] == [judged]
