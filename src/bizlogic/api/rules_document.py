"""Reading an uploaded rules export (JSON or YAML) without trusting it.

Everything here runs in a worker thread, never on the event loop, and YAML
is parsed in a child process with its own limits (api/yaml_child.py). The
document is refused whole (422) when it nests deeper than the limit, uses
YAML aliases (a few hundred bytes of ``&a [*a, *a, …]`` expand to
gigabytes: "billion laughs"), holds more rules than the limit, or has a
rule the database could not store as given: text with NUL characters,
strings over their column's length, integers beyond 32 bits, numbers that
are not finite or out of range.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.mining.model import Condition, Rule
from bizlogic.records.nesting import NestingTooDeep, check_nesting
from bizlogic.store.results import INT_MEASURES

YAML_TIMEOUT_S = 90
MAX_INT = 2**31 - 1  # INTEGER columns on PostgreSQL and SQLite alike
# Longest stored text per rule field (characters); algorithm and rule_type are VARCHAR(64).
MAX_CHARS = {"algorithm": 64, "rule_type": 64, "condition": 1_000, "example": 2_000}
MAX_CONDITIONS = 16
MAX_EXAMPLES = 50
_FRACTIONS = ("support", "confidence", "p_value", "q_value", "holdout_confidence",
              "validation_confidence", "score")  # fmt: skip
_FINITE = ("leverage", "npmi")
_MAY_BE_INFINITE = ("lift", "conviction", "pmi")  # stored as NULL when infinite


@dataclass(frozen=True)
class DocumentLimits:
    max_depth: int
    max_rules: int


def _invalid(message: str, details: Any = None) -> ApiError:
    return ApiError(422, ErrorCode.INVALID_REQUEST, message, details)


def _load_yaml(body: bytes, max_depth: int) -> Any:
    """Parse in a child process (api/yaml_child.py): its CPU and memory are bounded."""
    command = [sys.executable, "-I", "-m", "bizlogic.api.yaml_child", str(max_depth)]
    try:
        done = subprocess.run(command, input=body, capture_output=True, timeout=YAML_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise _invalid(f"body: YAML not parsed within {YAML_TIMEOUT_S} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip()[-500:]
        if not reason:  # killed by its CPU or memory limit
            reason = f"YAML parser stopped (exit {done.returncode}): document too costly"
        raise _invalid(f"body: {reason}")
    lines = done.stdout.splitlines()
    head = orjson.loads(lines[0])
    document = head["document"]
    if head["rules_follow"]:
        document["rules"] = [orjson.loads(line) for line in lines[1:]]
    return document


def load_document(body: bytes, fmt: str, limits: DocumentLimits) -> Any:
    try:
        if fmt == "yaml":
            return _load_yaml(body, limits.max_depth)
        check_nesting(body, limits.max_depth)
        return orjson.loads(body)
    except NestingTooDeep as exc:
        raise _invalid(f"body: {exc}") from None
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _invalid(f"body: not valid {fmt}: {exc}") from None


def _text_problem(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return "contains a NUL character"
    if len(value) > limit:
        return f"longer than {limit} characters"
    return None


def _condition_problems(name: str, condition: Condition) -> list[tuple[str, str]]:
    problems = []
    for part in ("field", "operator"):
        value = getattr(condition, part)
        if not isinstance(value, str) or not value:
            problems.append((f"{name}.{part}", "expected a non-empty string"))
        elif problem := _text_problem(value, MAX_CHARS["condition"]):
            problems.append((f"{name}.{part}", problem))
    value = condition.value
    if isinstance(value, dict | list):
        problems.append((f"{name}.value", "expected a string, number or timestamp"))
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append((f"{name}.value", "must be a finite number"))
    elif problem := _text_problem(value, MAX_CHARS["condition"]):
        problems.append((f"{name}.value", problem))
    return problems


def rule_problems(rule: Rule) -> list[tuple[str, str]]:
    """(field, problem) for every value of ``rule`` the database could not store as given."""
    problems: list[tuple[str, str]] = []
    for name in ("algorithm", "rule_type"):
        value = getattr(rule, name)
        if not isinstance(value, str) or not value:
            problems.append((name, "expected a non-empty string"))
        elif problem := _text_problem(value, MAX_CHARS[name]):
            problems.append((name, problem))
    if not 1 <= len(rule.conditions) <= MAX_CONDITIONS:
        problems.append(("conditions", f"expected 1 to {MAX_CONDITIONS} conditions"))
    for i, condition in enumerate(rule.conditions[:MAX_CONDITIONS]):
        problems.extend(_condition_problems(f"conditions[{i}]", condition))
    problems.extend(_condition_problems("consequent", rule.consequent))
    for name in INT_MEASURES:
        value = getattr(rule, name)
        if value is None and name.startswith(("holdout", "validation")):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            problems.append((name, f"expected an integer from 0 to {MAX_INT}"))
    for name in _FRACTIONS + _FINITE + _MAY_BE_INFINITE:
        value = getattr(rule, name)
        if value is None and name in ("holdout_confidence", "validation_confidence"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            problems.append((name, "expected a number"))
        elif math.isinf(value) and name not in _MAY_BE_INFINITE:
            problems.append((name, "must be finite"))
        elif name in _FRACTIONS and not 0.0 <= value <= 1.0:
            problems.append((name, "expected a number from 0 to 1"))
    if len(rule.examples) > MAX_EXAMPLES:
        problems.append(("examples", f"more than {MAX_EXAMPLES} examples"))
    for i, example in enumerate(rule.examples[:MAX_EXAMPLES]):
        if not isinstance(example, str):
            problems.append((f"examples[{i}]", "expected a string"))
        elif problem := _text_problem(example, MAX_CHARS["example"]):
            problems.append((f"examples[{i}]", problem))
    return problems


def _typed_ints(item: dict[str, Any]) -> dict[str, Any]:
    """Counts must arrive as integers: int("7") or int(7.9) would hide a broken file."""
    for name in INT_MEASURES:
        value = item.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name}: expected an integer, got {type(value).__name__}")
    return item


def read_rules(body: bytes, fmt: str, limits: DocumentLimits) -> list[Rule]:
    """The rules of an export document, or 422 naming every bad field (first 100)."""
    document = load_document(body, fmt, limits)
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise _invalid("body: expected an export document with a 'rules' list")
    items = document["rules"]
    if len(items) > limits.max_rules:
        raise _invalid(
            f"body: {len(items)} rules; at most {limits.max_rules} per import "
            "(BL_MAX_RULES_PER_IMPORT)"
        )
    rules, errors = [], []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            rule = Rule.from_dict(_typed_ints(item))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            errors.append({"field": f"rules[{index}]", "message": f"{type(exc).__name__}: {exc}"})
            continue
        found = rule_problems(rule)
        errors.extend(
            {"field": f"rules[{index}].{name}", "message": problem} for name, problem in found
        )
        if not found:
            rules.append(rule)
    if errors:
        raise _invalid(
            f"{len(errors)} problem(s) in the rules; nothing was imported", errors[:100]
        )
    return rules
