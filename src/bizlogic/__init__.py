"""bizlogic: turns annotated records into patterns, business rules and insights."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("superinsight-bizlogic")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"
