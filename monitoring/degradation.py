"""The degradation policy: how much the gateway records, fleet-wide.

Levels and their sampling rates: NORMAL 1.0, PARTIAL 0.5, MINIMAL 0.1, DISABLED 0. The rate is the
share of requests whose *histograms* (durations, overhead, time to first token) are observed; counters
(requests, tokens, retries, fallbacks, rejections) stay exact at every level, so counts and rates
remain right while the costly part shrinks. The level lives in shared state so every worker applies
it; in auto mode the `monitoring.evaluate_degradation` job moves it from memory pressure and the
monitoring error rates (`auto_level`, a pure function).
"""

import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from routerproject.exceptions import InvalidInput
from routerproject.state import get_state

from .errors import error_stats


class Level(StrEnum):
    NORMAL = "NORMAL"
    PARTIAL = "PARTIAL"
    MINIMAL = "MINIMAL"
    DISABLED = "DISABLED"


SAMPLING_RATES = {Level.NORMAL: 1.0, Level.PARTIAL: 0.5, Level.MINIMAL: 0.1, Level.DISABLED: 0.0}
DESCRIPTIONS = {
    Level.NORMAL: "Normal Mode",
    Level.PARTIAL: "Partial Degradation",
    Level.MINIMAL: "Minimal Mode",
    Level.DISABLED: "Disabled Mode",
}
LEVEL_KEY = "monitoring:degradation:level"
AUTO_KEY = "monitoring:degradation:auto"
CHANGED_KEY = "monitoring:degradation:changed-at"

# auto_level thresholds
MEMORY_PARTIAL, MEMORY_MINIMAL, MEMORY_DISABLED = 0.80, 0.90, 0.97
ERRORS_PARTIAL, ERRORS_MINIMAL = 10, 50  # errors in the current error window, all components


def parse_level(value: Any) -> Level:
    try:
        return Level(str(value).upper())
    except ValueError:
        raise InvalidInput(
            errors={"level": [f"Must be one of {[level.value for level in Level]}."]}
        ) from None


def auto_level(*, memory_ratio: float, recent_errors: int, degraded_components: int) -> Level:
    """The level the fleet should run at, from the share of memory in use (0..1), the errors of the
    current window and the number of degraded monitoring components."""
    if memory_ratio >= MEMORY_DISABLED:
        return Level.DISABLED
    if (
        memory_ratio >= MEMORY_MINIMAL
        or recent_errors >= ERRORS_MINIMAL
        or degraded_components >= 3
    ):
        return Level.MINIMAL
    if memory_ratio >= MEMORY_PARTIAL or recent_errors >= ERRORS_PARTIAL or degraded_components:
        return Level.PARTIAL
    return Level.NORMAL


def memory_ratio(meminfo: Path = Path("/proc/meminfo")) -> float:
    """Share of the host's memory in use (MemAvailable against MemTotal); 0 where unknown."""
    try:
        fields = dict(
            (line.split(":")[0], int(line.split()[1])) for line in meminfo.read_text().splitlines()
        )
        return max(0.0, min(1.0, 1 - fields["MemAvailable"] / fields["MemTotal"]))
    except (OSError, KeyError, ValueError, IndexError, ZeroDivisionError):
        return 0.0


def read_level(raw: str | None) -> Level:
    try:
        return Level(raw) if raw else Level.NORMAL
    except ValueError:
        return Level.NORMAL


def _auto_enabled(raw: str | None) -> bool:
    return raw != "0"


def degradation_status() -> dict[str, Any]:
    state = get_state()
    level = read_level(state.get(LEVEL_KEY))
    changed = state.get(CHANGED_KEY)
    stats = error_stats()
    return {
        "level": level.value,
        "levelDescription": DESCRIPTIONS[level],
        "samplingRate": SAMPLING_RATES[level],
        "autoModeEnabled": _auto_enabled(state.get(AUTO_KEY)),
        "timeSinceLastChange": int((time.time() - float(changed)) * 1000) if changed else None,
        "errorComponentCount": stats["activeErrorComponents"],
    }


def degradation_set_level(level: Level, *, manual: bool = True) -> Level:
    """Set the fleet's level. A manual choice turns auto mode off, so the job does not undo it."""
    state = get_state()
    if manual:
        state.set(AUTO_KEY, "0")
    if read_level(state.get(LEVEL_KEY)) is not level:
        state.set(LEVEL_KEY, level.value)
        state.set(CHANGED_KEY, repr(time.time()))
    return level


def degradation_set_auto(*, enabled: bool) -> bool:
    get_state().set(AUTO_KEY, "1" if enabled else "0")
    return enabled


def degradation_force_recovery() -> Level:
    """Back to NORMAL at once (auto mode unchanged: it may degrade again if the cause persists)."""
    return degradation_set_level(Level.NORMAL, manual=False)


def degradation_evaluate(*, memory: float | None = None) -> Level | None:
    """Auto mode's step: apply `auto_level` to the current figures; None when auto mode is off."""
    if not _auto_enabled(get_state().get(AUTO_KEY)):
        return None
    stats = error_stats()
    level = auto_level(
        memory_ratio=memory_ratio() if memory is None else memory,
        recent_errors=stats["recentErrors"],
        degraded_components=stats["degradedComponents"],
    )
    return degradation_set_level(level, manual=False)
