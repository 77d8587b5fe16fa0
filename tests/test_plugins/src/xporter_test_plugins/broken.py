"""A plugin whose import raises, to prove it cannot take down the other backends."""

raise RuntimeError("this test plugin is broken on purpose")
