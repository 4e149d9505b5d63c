"""lossprep: the course library that the chapters, demos, exercises and quiz import.

Submodules are imported on use (``from lossprep import device``) so that light tools such as
``lossprep quiz`` never pay for torch or matplotlib.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
