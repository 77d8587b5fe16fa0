"""Test-only xporter plugins: one that works, one that raises on import, one missing a dependency."""
