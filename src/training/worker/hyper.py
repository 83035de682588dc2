"""The run's hyperparameters as one typed object.

Built from the declaration every surface shares (src/training/options.ts, copied into
training_options.json by `npm run generate`): each option is a field with its declared default, and a
value of the wrong kind or out of range is refused here with the same words the platform uses, so the
worker never keeps defaults of its own.
"""

import dataclasses
import json
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "training_options.json")) as _handle:
    OPTIONS = json.load(_handle)["options"]

_TYPES = {"int": int, "float": float, "flag": bool, "choice": str, "text": str, "intList": list}


class HyperError(ValueError):
    pass


def _field(spec):
    default = spec["default"]
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default))
    return dataclasses.field(default=default)


Hyper = dataclasses.make_dataclass(
    "Hyper",
    [(name, _TYPES[spec["kind"]], _field(spec)) for name, spec in OPTIONS.items()],
    namespace={
        "__doc__": "One run's hyperparameters; fields and defaults as options.ts declares them.",
        "as_dict": lambda self: dataclasses.asdict(self),
    },
)


def problem_of(name, value):
    """Why `value` is not a valid value of option `name`, or None (options.ts's problemOf, in Python)."""
    spec = OPTIONS[name]
    kind = spec["kind"]
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        ok = (value is None and spec["nullable"]) or (is_number and float(value).is_integer() and spec["min"] <= value <= spec["max"])
        return None if ok else f"{name} must be an integer from {spec['min']} to {spec['max']}{', or null' if spec['nullable'] else ''}, got {value!r}"
    if kind == "float":
        ok = is_number and value == value and spec["min"] <= value <= spec["max"]
        return None if ok else f"{name} must be a number from {spec['min']} to {spec['max']}, got {value!r}"
    if kind == "flag":
        return None if isinstance(value, bool) else f"{name} must be true or false, got {value!r}"
    if kind == "choice":
        return None if value in spec["values"] else f'Unsupported {name} "{value}". Choose one of: {", ".join(spec["values"])}'
    if kind == "text":
        return None if isinstance(value, str) and value else f"{name} must be a non-empty string, got {value!r}"
    ok = (
        isinstance(value, list)
        and 1 <= len(value) <= spec["maxLength"]
        and all(isinstance(v, int) and not isinstance(v, bool) and spec["min"] <= v <= spec["max"] for v in value)
    )
    return None if ok else f"{name} must be 1 to {spec['maxLength']} integers from {spec['min']} to {spec['max']}, got {value!r}"


def read_hyper(raw):
    """The config's "hyper" object as a Hyper: declared defaults for what it leaves out; an unknown
    option or a bad value raises HyperError naming it."""
    unknown = sorted(set(raw) - set(OPTIONS))
    if unknown:
        raise HyperError(f"unknown training option(s) {', '.join(unknown)}; the worker knows {', '.join(OPTIONS)}")
    for name, value in raw.items():
        problem = problem_of(name, value)
        if problem:
            raise HyperError(problem)
    values = {name: (float(value) if OPTIONS[name]["kind"] == "float" else value) for name, value in raw.items()}
    return Hyper(**values)
