"""What only one chapter needs, one module per chapter (named as the chapter's file in ``book/``).

A chapter module imports the core (``device``, ``symbolic``, ``symbols``, ``formulas``, ``plots``,
``train``, ``metrics``, ``tables``), ``losses`` and ``data``; never another chapter (``tests/test_layout.py`` checks).
A chapter teaches the loss an exercise asks for but never hands over the exercise's answer.
"""
