"""The rule registry and the rule families (see registry.py)."""
