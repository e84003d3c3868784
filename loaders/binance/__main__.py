"""`python -m loaders.binance`: see loaders/binance/cli.py."""

import sys

from loaders.binance.cli import main

sys.exit(main())
