"""What a property key says about its value: personal, a user id, known to be safe, or unknown.

Keys are botbuilder's camelCase property keys and the attribute keys we emit. A key none of
these lists knows is judged by its name first (``userQuestion``, ``guestName`` and
``contactEmail`` name personal data) and otherwise by its value (see ``detection``).
"""

from __future__ import annotations

import re
from typing import Final

from .. import contract

#: Keys whose values are personal data: botbuilder's camelCase property keys and the
#: OpenTelemetry attribute keys we would otherwise emit. Recorded only when allowed.
PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        "text",
        "speak",
        "fromName",
        "attachments",
        "question",
        "originalQuestion",
        "username",
        "userName",
        "enduser.id",
        "user.id",
        "user.name",
        "user.email",
        "message.text",
        "gen_ai.prompt",
        "gen_ai.completion",
        # a prompt's answer: recorded only for a user whose consent stands (or when
        # personal data may be logged for everyone)
        contract.PROMPT_RESPONSE,
        # an answer a model wrote: it can repeat the user's words, names and ids
        contract.GENERATED_ANSWER,
    }
)

#: Keys whose values identify a user: recorded as a keyed hash (see ``pseudonymize``) so
#: one user's events still join up without the raw id leaving the bot. A Teams tenant id
#: too: it names the user's organisation (and with an aadObjectId, the user's directory
#: entry); hashed, a tenant's events still group together.
PSEUDONYMOUS_KEYS: frozenset[str] = frozenset(
    {"fromId", "recipientId", "userId", "TeamsUserAadObjectId", "TeamsTenantId"}
)

#: Keys that hold the channel's conversation id: as they are unless the id holds personal
#: data (``PrivacyPolicy.conversation_id``).
CONVERSATION_KEYS: frozenset[str] = frozenset(
    {contract.CONVERSATION_ID, contract.ATTR_CONVERSATION_ID, contract.ATTR_GEN_AI_CONVERSATION_ID}
)

#: Keys whose values we know hold no personal data, recorded as they are: ids the channel
#: or we generate, scores, intents, the knowledge base's own questions and answers, dialog
#: and step names, and what botbuilder's own components send under these names.
SAFE_KEYS: frozenset[str] = frozenset(
    {
        contract.ACTIVITY_ID,
        contract.ACTIVITY_TYPE,
        contract.CHANNEL_ID,
        contract.CONVERSATION_ID,
        contract.CORRELATION_ID,
        contract.REPLY_ACTIVITY_ID,
        # On BotMessageReceived the recipient is the bot itself.
        contract.RECIPIENT_NAME,
        contract.LOCALE,
        contract.INTENT,
        contract.INTENT_SCORE,
        contract.INTENT_2,
        contract.INTENT_SCORE_2,
        contract.APPLICATION_ID,
        contract.RECOGNIZER,
        contract.SENTIMENT_LABEL,
        contract.SENTIMENT_SCORE,
        contract.ANSWER,
        contract.SCORE,
        contract.ARTICLE_FOUND,
        contract.KNOWLEDGE_BASE_ID,
        contract.QUESTION_ID,
        contract.MATCHED_QUESTION,
        contract.DIALOG_ID,
        contract.STEP_NAME,
        contract.INSTANCE_ID,
        contract.CUSTOM_EVENT_NAME,
        contract.CUSTOM_MEASUREMENTS,
        # Already pseudonymous: the turn span's keyed hashes of the user and conversation ids.
        *contract.TURN_IDENTITY_KEYS,
        # PromptAnswered's facts about the question (its texts are made safe by the signal)
        contract.QUESTION_TYPE,
        contract.QUESTION_DURATION_MS,
        contract.QUESTION_SCORE,
        contract.QUESTION_MAX_SCORE,
        contract.X_PATH,
        contract.EOF,
        contract.PROMPT_ID,
        contract.STEP_INDEX,
        # ConsentChanged: the decision, and the real id only as the vault's ciphertext
        contract.CONSENT,
        contract.ENCRYPTED_USER_ID,
    }
)

#: Keys we know whose values may or may not be personal: a conversation's name is often a
#: channel's ("support") but can be a group chat's title; a team's name likewise; an invoke's
#: or event's name is a protocol's (``adaptiveCard/action``) but a client may choose any.
#: Under a policy that keeps personal data out they are judged by value, like unknown keys
#: (not dropped for ending in "name").
JUDGED_BY_VALUE: frozenset[str] = frozenset(
    {
        contract.CONVERSATION_NAME,
        contract.TEAMS_TEAM_INFO,
        contract.ACTIVITY_NAME,
        contract.ATTR_ACTIVITY_NAME,
    }
)

# Words that name personal data wherever they appear in a key (contactEmail, phoneNumber).
_ANYWHERE: Final = (
    "email",
    "mail",
    "phone",
    "mobile",
    "msisdn",
    "password",
    "passwd",
    "ssn",
    "birth",
    "aadhaar",
    "aadhar",
    "iban",
)
# Short words that name personal data only as the key's last word itself (clientIp, dob,
# payeeVpa), never as the end of a longer one (tooltip, membership, dobbin).
_LAST_WORD: Final = ("ip", "dob", "vpa", "upi", "pan")
# Words that name personal data when a key ends with them (userQuestion, guest_name,
# feedbackText), but not when they only qualify it (messageCount, questionId, textLength).
_LAST: Final = (
    "name",
    "names",
    "text",
    "message",
    "messages",
    "question",
    "query",
    "utterance",
    "comment",
    "comments",
    "feedback",
    "address",
    "transcript",
    "prompt",
    "completion",
    "speak",
    "speech",
    "body",
    "content",
    "input",
    "user",
    "customer",
    "guest",
    "person",
    "author",
    "contact",
    "sender",
)
_WORD_BREAK = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def named_personal(key: str) -> bool:
    """Whether a key's name says its value is personal.

    >>> named_personal("userQuestion"), named_personal("original_question")
    (True, True)
    >>> named_personal("questionId"), named_personal("messageCount"), named_personal("score")
    (False, False, False)
    """
    words = [word.lower() for word in _WORD_BREAK.split(key) if word]
    if not words:
        return False
    joined = "".join(words)
    if any(word in joined for word in _ANYWHERE):
        return True
    # "username", "displayname": compounds written without a break end with the word too.
    return (
        words[-1] in _LAST
        or words[-1] in _LAST_WORD
        or any(joined.endswith(word) for word in _LAST)
    )


def named_version(key: str) -> bool:
    """Whether a key's last word says its value is a version (``appVersion``,
    ``pdata.ver``): a dotted quad under it is a version, not an IP address.

    >>> named_version("appVersion"), named_version("sunbird.context.pdata.ver")
    (True, True)
    >>> named_version("versionNote"), named_version("server")
    (False, False)
    """
    words = [word for word in _WORD_BREAK.split(key) if word]
    return bool(words) and words[-1].lower() in ("version", "ver")
