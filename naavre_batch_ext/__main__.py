"""``python -m naavre_batch_ext`` is the same as ``naavre-batch``."""

import sys

try:
    from .cli import main
except (
    KeyboardInterrupt
):  # Ctrl-C while Python still imports the CLI (a loaded machine): no traceback
    print("\nnaavre-batch: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
