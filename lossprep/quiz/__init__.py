"""The spaced-repetition quiz: card bank, FSRS scheduling, SQLite store, terminal session.

Modules are flat and small, in the py-fsrs manner:

- :mod:`~lossprep.quiz.cards`: the card schema and the loader of ``book/cards/<chapter>.yml``;
- :mod:`~lossprep.quiz.numeric`: the generators that draw fresh parameters for numeric cards;
- :mod:`~lossprep.quiz.render`: LaTeX to terminal-readable Unicode, and to Anki's MathJax;
- :mod:`~lossprep.quiz.scheduler`: pure scheduling on ``fsrs`` (no storage);
- :mod:`~lossprep.quiz.store`: the SQLite store (WAL, one transaction per review);
- :mod:`~lossprep.quiz.session`: the interactive session;
- :mod:`~lossprep.quiz.stats`, :mod:`~lossprep.quiz.plan`, :mod:`~lossprep.quiz.anki`.

Nothing here imports torch or matplotlib at import time (``stats --plot`` loads matplotlib
when asked).
"""
