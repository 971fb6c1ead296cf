"""Declared experiments: dotted overrides of params.yaml that analysts run and compare."""
