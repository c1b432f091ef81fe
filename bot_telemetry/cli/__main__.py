"""``python -m bot_telemetry.cli``: the same as the ``bot-telemetry`` command."""

import sys

from . import main

sys.exit(main())
