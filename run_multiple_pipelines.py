"""Start many Orchestra pipeline runs from one JSON config: full refreshes and backfills.

    python run_multiple_pipelines.py --config backfill.json --wait
    python run_multiple_pipelines.py --help

The logic lives in ``run_multiple/`` (see its README); this file is the entry point the
Orchestra blueprint puts at the repository's root.
"""

import sys

from run_multiple.cli import main

if __name__ == "__main__":
    sys.exit(main())
