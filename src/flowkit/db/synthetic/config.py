"""The knobs of the synthetic country, and the random helpers its parts share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Everything else follows deterministically from `seed`."""

    seed: int = 2016
    subscribers: int = 20_000
    start_date: date = date(2016, 1, 1)
    end_date: date = date(2016, 2, 29)  # inclusive last day of data
    crisis_date: date | None = date(2016, 2, 10)
    crisis_areas: int = 3  # admin3 areas most residents leave on the crisis date
    country_code: str = "XFK"  # fictional; pcods look like GADM's: XFK.1_1, XFK.1.2_1, XFK.1.2.3_1
    cells: int = 1500  # cells spread by population; every admin3 gets at least 2
    tacs: int = 150  # handset models
    calls_per_day: float = 1.5  # calls placed per subscriber per day, two rows each
    sms_per_day: float = 1.5  # messages sent per subscriber per day, two rows each
    mds_per_day: float = 1.0  # data sessions per subscriber per day (smartphones have more)
    topups_per_day: float = 0.1  # chance that a subscriber tops up on a day (at most once)
    dfs_per_day: float = 0.2  # mobile-money transactions per account holder per day
    trip_share: float = 0.02  # share of subscriber-days spent in another admin3
    crisis_move_share: float = 0.85  # share of crisis-area residents (and jobs) that leave
    resited_share: float = 0.03  # share of sites (with their cells) moved mid-period
    handset_change_share: float = 0.02  # share of subscribers changing handset mid-period

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if self.subscribers < 2:
            raise ValueError("subscribers must be >= 2: calls need someone to call")
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        if self.crisis_date is not None and not self.start_date < self.crisis_date <= self.end_date:
            raise ValueError("crisis_date must fall after start_date and on or before end_date")

    @property
    def days(self) -> list[date]:
        return [self.start_date + timedelta(days=i) for i in range((self.end_date - self.start_date).days + 1)]

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent generator per part (and per day): drawing more numbers in one part
        never changes another, so e.g. the geography does not depend on the subscriber count."""
        return np.random.default_rng([self.seed, *stream])


# Benchmark scales (issue 7): subscribers over 30 days, 2016-01-01 to 2016-01-30, crisis on 2016-01-16.
SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}


def sized(size: str, seed: int = 2016) -> SyntheticConfig:
    """The benchmark country of `size` (S, M or L): only the subscriber count differs."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    return SyntheticConfig(
        seed=seed,
        subscribers=SIZES[size],
        start_date=date(2016, 1, 1),
        end_date=date(2016, 1, 30),
        crisis_date=date(2016, 1, 16),
    )


def codes(rng: np.random.Generator, n: int, length: int, alphabet: str = BASE62) -> np.ndarray:
    """`n` distinct random strings of `length` characters, like FlowKit's test msisdns and cell ids."""
    chars = np.array(list(alphabet))
    found = np.empty(0, dtype=f"<U{length}")
    while len(found) < n:  # repeats only after a collision
        drawn = chars[rng.integers(0, len(chars), size=(n, length))].view(f"<U{length}").ravel()
        both = np.concatenate([found, drawn])
        _, first = np.unique(both, return_index=True)
        found = both[np.sort(first)]
    return found[:n]
