"""`python -m meshcheck.property_tests.plenum run|campaign ...`: property_tests/plenum/campaign.py."""

from __future__ import annotations

import sys

from meshcheck.property_tests.plenum.campaign import main

sys.exit(main(sys.argv[1:]))
