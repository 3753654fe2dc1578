"""Allow ``python -m bt2c``."""

from bt2c.cli import main

main()
