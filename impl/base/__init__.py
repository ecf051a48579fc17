"""The base layer: what every other layer shares and that imports nothing else of the project.

Events a core is told (events.py), effects it asks for (effects.py), the values of spec states and
traces (values.py: sets, functions and records as hashable Python values) and errors (errors.py).
The import contracts in pyproject.toml (`lint-imports`) keep it at the bottom.
"""
