"""The spaced-repetition quiz: card bank, FSRS scheduling, SQLite store, terminal session.

Modules are flat and small, in the py-fsrs manner:

- :mod:`~lossprep.quiz.cards`: the card schema and the loader of ``book/cards/<chapter>.yml``;
- :mod:`~lossprep.quiz.numeric`: the generators that draw fresh parameters for numeric cards;
- :mod:`~lossprep.quiz.render`: LaTeX to terminal-readable Unicode, and to Anki's MathJax;
- :mod:`~lossprep.quiz.scheduler`: pure scheduling on ``fsrs`` (no storage);
- :mod:`~lossprep.quiz.clock`: the instant, the reader's local study days, printed times;
- :mod:`~lossprep.quiz.store`: the SQLite store (WAL, one transaction per review, undo);
- :mod:`~lossprep.quiz.session`: the interactive session (learning steps, preview, undo);
- :mod:`~lossprep.quiz.where`: where to re-read a card (chapter, section, built page);
- :mod:`~lossprep.quiz.stats`, :mod:`~lossprep.quiz.plan`, :mod:`~lossprep.quiz.anki`,
  :mod:`~lossprep.quiz.optimize` (``fsrs``'s optimiser on the reader's history).

Nothing here imports torch or matplotlib at import time (``stats --plot`` loads matplotlib
and ``optimize`` loads torch and pandas, when asked).
"""
