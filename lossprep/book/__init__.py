"""Book tooling: the table of contents, the chapter notebooks, the self-check directive.

Importing this package imports nothing heavy; ``toc`` is the one reader of ``_toc.yml`` for the
package and the tests.
"""
