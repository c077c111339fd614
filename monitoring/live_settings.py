"""What this process records, as of now: the monitoring settings and the degradation level.

The /v1 hot path reads `current_view()` (no I/O). `arefresh()` runs at the start of each /v1 request
and costs nothing until LIVE_CONFIG_CHECK_INTERVAL has passed; then it follows the configuration
generation and the degradation level (`routerproject.generations`: one reading serves every cache),
and reloads the settings (in a thread) when the generation moved. A change on any worker therefore
applies everywhere within about a second. Neither an unreadable state nor a failing reload touches
the request: the view is kept and the failure is counted as the `configUpdater` component's.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from routerproject.generations import Reading, check_interval, follow
from routerproject.state import GENERATION_KEY

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
        self.lock: asyncio.Lock | None = None

    def _take(self, reading: Reading, content: dict[str, Any] | None) -> None:
        self.view = MonitoringView(
            content if content is not None else self.view.content,
            read_level(reading.get(LEVEL_KEY)),
            reading.number(GENERATION_KEY),
        )

    def _moved(self, reading: Reading) -> bool:
        return reading.number(GENERATION_KEY) != self.view.generation

    def refresh(self) -> MonitoringView:
        reading = _follower.read(fresh=True)
        if reading.error is not None:
            record_error("configUpdater", reading.error)
            return self.view
        try:
            self._take(reading, _load_content() if self._moved(reading) else None)
        except Exception as exc:
            record_error("configUpdater", exc)
        return self.view

    async def arefresh(self) -> MonitoringView:
        if not _follower.due():
            return self.view
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            if not _follower.due():
                return self.view
            reading = await _follower.aread()
            if reading.error is not None:
                await sync_to_async(record_error)("configUpdater", reading.error)
                return self.view
            try:
                content = None
                if self._moved(reading):
                    content = await sync_to_async(_load_content)()
                self._take(reading, content)
            except Exception as exc:
                await sync_to_async(record_error)("configUpdater", exc)
        return self.view

    def forget(self) -> None:
        self.view = MonitoringView()


_holder = _ViewHolder()
_follower = follow(GENERATION_KEY, LEVEL_KEY, interval=check_interval, on_forget=_holder.forget)


def current_view() -> MonitoringView:
    return _holder.view


def refresh_view() -> MonitoringView:
    """For sync callers (/metrics, the API): always reads the shared state."""
    return _holder.refresh()


async def arefresh_view() -> MonitoringView:
    return await _holder.arefresh()
