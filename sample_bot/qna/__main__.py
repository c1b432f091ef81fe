"""``python -m sample_bot.qna --port 5102``: the question answering service."""

from __future__ import annotations

import sys

from ..service import run_service, service_arguments
from .api import build_app
from .knowledge_base import load_knowledge_base


def main(argv: list[str] | None = None) -> int:
    parser = service_arguments("generateAnswer-shaped Q&A for the sample bot", 5102)
    parser.add_argument("--kb", help="knowledge-base file (default: the bundled one)")
    args = parser.parse_args(argv)
    try:
        kb = load_knowledge_base(args.kb)
    except ValueError as error:
        parser.error(str(error))
    return run_service(
        lambda ledger: build_app(kb, ledger),
        service_name="qna",
        host=args.host,
        port=args.port,
        fail_every=args.fail_every,
    )


if __name__ == "__main__":
    sys.exit(main())
