"""What the tests share: helpers that are not fixtures (fixtures live in conftest.py files)."""
