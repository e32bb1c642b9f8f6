"""``python -m sensors <kind> ...``: see :mod:`sensors.cli`."""

import sys

from sensors.cli import main

sys.exit(main())
