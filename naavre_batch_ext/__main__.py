"""``python -m naavre_batch_ext`` is the same as ``naavre-batch``."""

import sys

from .cli import main

sys.exit(main())
