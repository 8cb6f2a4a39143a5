"""``python -m runtime`` does what the ``ibalgo`` command does."""

import sys

from runtime.cli import main

sys.exit(main())
