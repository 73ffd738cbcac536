"""Serve Care Journeys on the bundled synthetic samples: `python app.py` (or `make run`), then open the address.

For a council's own data use `journeys serve --config CFG INPUT...` or `journeys serve --data BUILD_DIR...`.
"""

from __future__ import annotations

import sys

from journeys.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", "--samples", *sys.argv[1:]]))
