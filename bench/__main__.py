"""``python3 -m bench``: the benchmark suite (bench/suite.py), from the repository root."""

import sys

from bench.suite import main

sys.exit(main())
