"""Allows ``python -m l3roam``."""

import sys

from l3roam.cli import main

sys.exit(main())
