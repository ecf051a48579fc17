"""Third-party implementations under meshcheck's simulator: the adapter contract (contract.py) and
one file per adapted implementation (pysyncobj.py)."""
