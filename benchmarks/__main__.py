"""`python -m benchmarks [--quick]`: gankit against the usual training loops; see benchmarks/speed.py."""

import sys

from benchmarks.speed import main

sys.exit(main())
