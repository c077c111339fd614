"""Just enough PromQL reading to list the series an expression selects and the labels it uses."""

import re
from dataclasses import dataclass, field

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", re.IGNORECASE
)
_RANGE = re.compile(r"\[[^\]]*\]")
_SELECTOR = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


@dataclass
class Uses:
    series: dict[str, set[str]] = field(default_factory=dict)  # metric -> label names matched
    grouping: set[str] = field(default_factory=set)  # labels of by/without/on/ignoring


def uses(expr: str) -> Uses:
    found = Uses()
    text = _STRING.sub('""', expr)
    for match in _GROUPING.finditer(text):
        found.grouping |= {label.strip() for label in match.group(2).split(",") if label.strip()}
    text = _RANGE.sub("", _GROUPING.sub(" ", text))
    for match in _SELECTOR.finditer(text):
        name, braces, call = match.groups()
        if call or name.lower() in _KEYWORDS:
            continue  # a function or an aggregation, or an operator
        labels = set(_MATCHER.findall(braces or ""))
        found.series.setdefault(name, set()).update(labels)
    return found
