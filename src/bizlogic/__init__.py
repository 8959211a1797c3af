"""bizlogic: turns annotated records into patterns, business rules and insights."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__`` on first use: importlib.metadata costs ~40 ms, which importing one
    module (the log analyzer from a script or a benchmark) should not pay. The CLI's own
    dependencies load it anyway."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("superinsight-bizlogic")
    except PackageNotFoundError:  # running from a source tree without installation
        found = "0.0.0+local"
    globals()["__version__"] = found
    return found
