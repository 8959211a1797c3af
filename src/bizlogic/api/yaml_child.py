"""Parse one YAML document from stdin in a process of its own; print it as JSON.

YAML is parsed here rather than in the server: libyaml composes a whole
document in one call that holds the interpreter lock (a 9 MB file froze the
event loop for seconds), and a hostile document could cost the server its
memory. This process has its own CPU and memory limits and dies alone.

Exit 0: the document as JSON lines on stdout (``write_lines``). Exit 2: refused or invalid, the
reason on stderr.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable

MEMORY_BYTES = 1024 * 1024 * 1024
CPU_SECONDS = 60


def write_lines(document: object, dumps: Callable[..., bytes]) -> None:
    """The document without its rules on line 1, then one rule per line.

    The server reads many short lines instead of one large value: each parse
    holds the interpreter lock briefly, so its event loop keeps answering.
    """
    out = sys.stdout.buffer
    rules = document.pop("rules", None) if isinstance(document, dict) else None
    if isinstance(rules, list):
        out.write(dumps({"document": document, "rules_follow": True}, default=str) + b"\n")
        for rule in rules:
            out.write(dumps(rule, default=str) + b"\n")
    else:
        if rules is not None:
            document["rules"] = rules
        out.write(dumps({"document": document, "rules_follow": False}, default=str) + b"\n")


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    os.nice(10)  # the server's own requests come first when CPUs are scarce
    import orjson
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    max_depth = int(sys.argv[1])
    body = sys.stdin.buffer.read()
    try:
        depth = 0
        for event in yaml.parse(body, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                sys.stderr.write(
                    f"YAML aliases (*{event.anchor}) are not accepted; export files never use them"
                )
                return 2
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    sys.stderr.write(f"YAML nested deeper than {max_depth} levels")
                    return 2
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        document = yaml.load(body, Loader=loader)  # a safe loader, aliases refused above
        write_lines(document, orjson.dumps)
    except (yaml.YAMLError, UnicodeDecodeError, TypeError) as exc:
        sys.stderr.write(f"not valid yaml: {exc}")
        return 2
    except MemoryError:
        sys.stderr.write("the YAML document needs more memory than allowed")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
