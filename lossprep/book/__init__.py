"""Book tooling: the table of contents, the chapter notebooks, the self-check and glossary directives.

Importing this package imports nothing heavy; ``toc`` is the one reader of ``_toc.yml`` for the
package and the tests.
"""
