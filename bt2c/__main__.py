"""Allow ``python -m bt2c``."""

from bt2c.entry import main

main()
