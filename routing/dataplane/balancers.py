"""The load balancers as pure functions: candidates and state in, the index of one instance out.

Shared state (round-robin cursors, in-flight counts) is read and written by `selection`, which calls
these functions; nothing here does I/O, so tests drive them with chosen draws, counters and IPs.
"""

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence
from functools import reduce
from itertools import accumulate

import numpy as np

# Above this many slots a smooth round-robin cycle is computed on scaled-down weights (same ratios
# to within 0.1 %), so a cycle never costs more than this much memory.
MAX_ROUND_ROBIN_CYCLE = 10_000

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


class Pool:
    """The eligible instances of one request, prepared once for every balancer."""

    __slots__ = ("_cycle", "_seeds", "cumulative", "ids", "total", "weights")

    def __init__(self, ids: Sequence[str], weights: Sequence[int]) -> None:
        self.ids = tuple(ids)
        self.weights = tuple(weights)
        self.cumulative = tuple(accumulate(self.weights))
        self.total = self.cumulative[-1] if self.cumulative else 0
        self._cycle: tuple[int, ...] | None = None
        self._seeds: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def cycle(self) -> tuple[int, ...]:
        if self._cycle is None:
            self._cycle = smooth_weighted_cycle(self.weights)
        return self._cycle

    @property
    def seeds(self) -> np.ndarray:
        if self._seeds is None:
            self._seeds = np.array([stable_hash(i) for i in self.ids], dtype=np.uint64)
        return self._seeds


def stable_hash(text: str) -> int:
    """64 bits that are the same on every worker and every run (unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def pick_random(pool: Pool, draw: float) -> int:
    """Weighted random: `draw` uniform in [0, 1) lands in an instance's share of the total weight."""
    return bisect_right(pool.cumulative, draw * pool.total)


def smooth_weighted_cycle(weights: Sequence[int]) -> tuple[int, ...]:
    """One cycle of nginx's smooth weighted round-robin: each instance appears `weight` times
    (after dividing by the common divisor), spread out rather than in runs."""
    divisor = reduce(math.gcd, weights)
    reduced = [w // divisor for w in weights]
    total = sum(reduced)
    if total > MAX_ROUND_ROBIN_CYCLE:
        reduced = [max(1, round(w * MAX_ROUND_ROBIN_CYCLE / total)) for w in reduced]
        total = sum(reduced)
    current = [0] * len(reduced)
    cycle = []
    for _ in range(total):
        for index, weight in enumerate(reduced):
            current[index] += weight
        chosen = max(range(len(current)), key=current.__getitem__)
        current[chosen] -= total
        cycle.append(chosen)
    return tuple(cycle)


def pick_round_robin(pool: Pool, counter: int) -> int:
    """The `counter`-th slot of the smooth cycle; the counter is shared by every worker."""
    cycle = pool.cycle
    return cycle[counter % len(cycle)]


def _mix64(values: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: spreads any input bit over the whole word.
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def pick_ip_hash(pool: Pool, client_ip: str) -> int:
    """Weighted rendezvous hashing on the client IP: a client keeps its instance while that instance
    stays, and adding an instance only moves the clients the newcomer wins (about weight/total)."""
    with np.errstate(over="ignore"):
        mixed = _mix64(pool.seeds ^ np.uint64(stable_hash(client_ip)))
    uniform = ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    scores = -np.asarray(pool.weights, dtype=np.float64) / np.log(uniform)
    return int(np.argmax(scores))
