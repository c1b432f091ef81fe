"""``python -m sample_bot.nlu --port 5101``: the intent recognition service."""

from __future__ import annotations

import sys

from ..service import run_service, service_arguments
from .api import build_app
from .model import load_model


def main(argv: list[str] | None = None) -> int:
    parser = service_arguments("LUIS v3-shaped intent recognition for the sample bot", 5101)
    parser.add_argument("--training", help="training file (default: the bundled one)")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.training)
    except ValueError as error:
        parser.error(str(error))
    return run_service(
        lambda ledger: build_app(model, ledger),
        service_name="nlu",
        host=args.host,
        port=args.port,
        fail_every=args.fail_every,
    )


if __name__ == "__main__":
    sys.exit(main())
