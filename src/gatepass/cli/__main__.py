"""``python -m gatepass.cli``."""

import sys

from gatepass.cli import main

sys.exit(main())
