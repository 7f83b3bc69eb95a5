"""`python -m benchmarks [--quick]`: gankit against the usual training loops; see benchmarks/speed.py.

With --quick (CI's smoke run) the evaluation on a busy machine follows, in its quick form
(benchmarks/busy_eval.py, given the same --data-dir); its full form runs on its own, as benchmarks.busy does.
"""

import argparse
import sys

from benchmarks import busy_eval
from benchmarks.speed import main

code = main()
flags = argparse.ArgumentParser(add_help=False)
flags.add_argument("--quick", action="store_true")
flags.add_argument("--data-dir")
known, _ = flags.parse_known_args()
if code == 0 and known.quick:
    code = busy_eval.main(["--quick", *(["--data-dir", known.data_dir] if known.data_dir else [])])
sys.exit(code)
