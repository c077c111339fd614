"""What this process records, as of now: the monitoring settings and the degradation level.

The /v1 hot path reads `current_view()` (no I/O). `arefresh()` runs at the start of each /v1 request
and costs nothing until LIVE_CONFIG_CHECK_INTERVAL has passed; then it reads the configuration
generation and the degradation level from shared state, and reloads the settings (in a thread) when
the generation moved. A change on any worker therefore applies everywhere within about a second.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from routerproject.state import GENERATION_KEY, get_state

from .degradation import LEVEL_KEY, SAMPLING_RATES, Level, read_level
from .errors import record_error
from .settings_schema import default_content


@dataclass(frozen=True)
class MonitoringView:
    content: dict[str, Any] = field(default_factory=default_content)
    level: Level = Level.NORMAL
    generation: int | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.content["enabled"])

    @property
    def prefix(self) -> str:
        return str(self.content["prefix"])

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(self.content["enabledCategories"])

    @property
    def custom_tags(self) -> dict[str, str]:
        return dict(self.content["customTags"])

    @property
    def sample_rate(self) -> float:
        """Share of requests whose histograms are observed: the degradation level's rate times
        the configured sampling rate (when sampling is on)."""
        sampling = self.content["sampling"]
        configured = float(sampling["rate"]) if sampling["enabled"] else 1.0
        return SAMPLING_RATES[self.level] * configured


def _load_content() -> dict[str, Any]:
    from .selectors import monitoring_settings

    return monitoring_settings()


class _ViewHolder:
    def __init__(self) -> None:
        self.view = MonitoringView()
        self.checked_at = float("-inf")
        self.lock: asyncio.Lock | None = None

    def _due(self) -> bool:
        return time.monotonic() - self.checked_at >= settings.LIVE_CONFIG_CHECK_INTERVAL

    def _apply(self, generation: int, level: Level, content: dict[str, Any] | None) -> None:
        self.view = MonitoringView(
            content if content is not None else self.view.content, level, generation
        )
        self.checked_at = time.monotonic()

    def refresh(self) -> MonitoringView:
        try:
            state = get_state()
            generation = int(state.get(GENERATION_KEY) or 0)
            level = read_level(state.get(LEVEL_KEY))
            content = _load_content() if generation != self.view.generation else None
            self._apply(generation, level, content)
        except Exception as exc:
            record_error("configUpdater", exc)
            self.checked_at = time.monotonic()
        return self.view

    async def arefresh(self) -> MonitoringView:
        if not self._due():
            return self.view
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            if not self._due():
                return self.view
            try:
                state = get_state()
                generation = int(await state.aget(GENERATION_KEY) or 0)
                level = read_level(await state.aget(LEVEL_KEY))
                content = None
                if generation != self.view.generation:
                    content = await sync_to_async(_load_content)()
                self._apply(generation, level, content)
            except Exception as exc:
                await sync_to_async(record_error)("configUpdater", exc)
                self.checked_at = time.monotonic()
        return self.view


_holder = _ViewHolder()


def current_view() -> MonitoringView:
    return _holder.view


def refresh_view() -> MonitoringView:
    """For sync callers (/metrics, the API): always reads the shared state."""
    return _holder.refresh()


async def arefresh_view() -> MonitoringView:
    return await _holder.arefresh()


def forget_view() -> None:
    """Tests: start from the defaults again."""
    _holder.view = MonitoringView()
    _holder.checked_at = float("-inf")
