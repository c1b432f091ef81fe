"""Prompt answers, consent and the identity vault: the events data exhausts are made of.

* ``PromptAnswered``: one per answer a user gives a dialog prompt (text, choice, number,
  confirm, date-time, attachment), valid or not;
* ``ConsentChanged``: a user granting or withdrawing consent to keep their personal data
  (their answers, names and real channel id); the latest one per user and bot decides, at
  export time too;
* ``ExhaustDownloaded``: the audit record of a data exhaust file being downloaded.

    from bot_telemetry.contract import PROMPT_ANSWERED, PROMPT_RESPONSE, CONSENT_GRANTED
"""

from __future__ import annotations

from typing import Final

PROMPT_ANSWERED: Final = "PromptAnswered"
CONSENT_CHANGED: Final = "ConsentChanged"
EXHAUST_DOWNLOADED: Final = "ExhaustDownloaded"

#: PromptAnswered's properties (``questionId``, ``DialogId`` and ``StepName`` are in
#: ``properties``). The question id is the asking dialog's id and its step: ``booking.steps#2``.
QUESTION_TYPE: Final = "questionType"
#: The prompt's text and its retry prompt's (what a valid answer looks like): bot-authored,
#: recorded with the turn's personal values and the redaction patterns replaced.
QUESTION_TITLE: Final = "questionTitle"
QUESTION_DESCRIPTION: Final = "questionDescription"
#: A choice prompt's choices, as a JSON list of their values.
QUESTION_OPTIONS: Final = "questionOptions"
#: Milliseconds from the prompt (or its last retry) being sent to the answer arriving.
QUESTION_DURATION_MS: Final = "questionDurationMs"
#: 1 when the answer was recognised and valid, else 0; the maximum is 1.
QUESTION_SCORE: Final = "questionScore"
QUESTION_MAX_SCORE: Final = "questionMaxScore"
#: The dialog path, outermost first: ``booking/booking.steps/booking.party``.
X_PATH: Final = "xPath"
#: True when the dialog that asked ended with this answer (its last question).
EOF: Final = "eof"
#: The prompt dialog's own id, and the asking waterfall's step index.
PROMPT_ID: Final = "promptId"
STEP_INDEX: Final = "stepIndex"
#: The answer as recognised (a number, true/false, a choice, date-time resolutions, the
#: attachments' names and types), as JSON: personal data, recorded only with consent.
PROMPT_RESPONSE: Final = "promptResponse"

#: The question types, one per botbuilder prompt.
QUESTION_TYPES: Final = ("text", "choice", "number", "confirm", "datetime", "attachment")

#: ConsentChanged's properties: ``consent`` is CONSENT_GRANTED or CONSENT_WITHDRAWN.
CONSENT: Final = "consent"
CONSENT_GRANTED: Final = "granted"
CONSENT_WITHDRAWN: Final = "withdrawn"
#: On a grant, when the identity vault has a key: the user's real channel id, encrypted
#: (``bot_telemetry.privacy.vault``), bound to the pseudonymous id.
ENCRYPTED_USER_ID: Final = "encryptedUserId"

#: ExhaustDownloaded's properties.
EXHAUST_REQUEST_ID: Final = "exhaust.request_id"
EXHAUST_DATASET: Final = "exhaust.dataset"
EXHAUST_TAG: Final = "exhaust.tag"
EXHAUST_FILE: Final = "exhaust.file"
EXHAUST_CLIENT: Final = "exhaust.client"

__all__ = [
    "CONSENT",
    "CONSENT_CHANGED",
    "CONSENT_GRANTED",
    "CONSENT_WITHDRAWN",
    "ENCRYPTED_USER_ID",
    "EOF",
    "EXHAUST_CLIENT",
    "EXHAUST_DATASET",
    "EXHAUST_DOWNLOADED",
    "EXHAUST_FILE",
    "EXHAUST_REQUEST_ID",
    "EXHAUST_TAG",
    "PROMPT_ANSWERED",
    "PROMPT_ID",
    "PROMPT_RESPONSE",
    "QUESTION_DESCRIPTION",
    "QUESTION_DURATION_MS",
    "QUESTION_MAX_SCORE",
    "QUESTION_OPTIONS",
    "QUESTION_SCORE",
    "QUESTION_TITLE",
    "QUESTION_TYPE",
    "QUESTION_TYPES",
    "STEP_INDEX",
    "X_PATH",
]
