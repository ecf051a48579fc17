"""`python -m meshcheck.drivers MODULE:FUNCTION [ARG ...]`: serve a Python driver (serve.py)."""

import sys

from meshcheck.drivers.serve import main

sys.exit(main())
