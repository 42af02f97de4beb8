"""Subscribers: who they are, where they live and work, whom they call, and the crisis moves.

Each subscriber has a home cell (area drawn by population) and a work cell (same area or a
touching one, cities attracting commuters), a handful of regular contacts mostly living in the
same area, a handset, and an activity level. Places come in two phases, before and from the
crisis date: most residents and jobs of the crisis areas move to touching areas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flowkit.db.synthetic.config import SyntheticConfig, codes
from flowkit.db.synthetic.country import Country
from flowkit.db.synthetic.network import Handsets, Network

CONTACTS = 8  # regular contacts per subscriber
LOCAL_CONTACTS = 0.7  # share of contacts living in the subscriber's home area
SAME_AREA_WORK = 0.5  # share of subscribers working in their home area
HOST_SHARE = 0.6  # share of a crisis area's movers who go to its most populous neighbour
ACTIVITY_SIGMA = 0.6  # spread of the lognormal activity level (mean 1)
IMSI_PREFIX = "00101"  # MCC 001, MNC 01: the ITU test network


@dataclass(frozen=True)
class Population:
    msisdn: pa.Array  # 16 characters, like FlowKit's test data
    imsi: pa.Array
    imei: pa.Array  # 2 × n: first handset, then the handset after a change
    handset: np.ndarray  # (2, n) model index (into Handsets) of each handset
    handset_change: np.ndarray  # day index from which the second handset is used
    home: np.ndarray  # (2, n) home cell before and from the crisis
    work: np.ndarray  # (2, n) work cell before and from the crisis
    contacts: np.ndarray  # (n, CONTACTS) subscriber indices
    activity: np.ndarray  # multiplier of every event rate
    balance: np.ndarray  # airtime balance before the first day
    crisis_areas: np.ndarray  # admin3 indices emptied on the crisis date
    movers: int  # residents of the crisis areas who move out


def build_population(country: Country, network: Network, handsets: Handsets, config: SyntheticConfig) -> Population:
    rng = config.rng(4)
    n = config.subscribers
    home_area = rng.choice(len(country.population), n, p=country.population)
    home = network.random_cells(rng, home_area)
    work = network.random_cells(rng, _work_areas(rng, country, home_area))
    handset = rng.choice(len(handsets.tac), (2, n), p=handsets.popularity)
    changes = rng.random(n) < config.handset_change_share
    handset_change = np.where(changes, rng.integers(1, max(2, len(config.days)), n), len(config.days))
    serials = codes(rng, 2 * n, 7, "0123456789")
    imei = np.char.add(handsets.tac[handset.ravel()].astype(str), serials)
    crisis = choose_crisis_areas(country, config)
    moves = rng.random(n) < config.crisis_move_share
    new_home = _displace(rng, country, network, home, moves, crisis)
    # a job in the home area follows the home; a job in a crisis area moves next door
    new_work = np.where(
        (network.cell_area[work] == home_area) & (new_home != home),
        network.random_cells(rng, network.cell_area[new_home]),
        _displace(rng, country, network, work, moves, crisis),
    )
    return Population(
        msisdn=pa.array(codes(rng, n, 16)),
        imsi=pa.array(np.char.add(IMSI_PREFIX, codes(rng, n, 10, "0123456789"))),
        imei=pa.array(imei),
        handset=handset,
        handset_change=handset_change,
        home=np.stack([home, new_home]),
        work=np.stack([work, new_work]),
        contacts=_contacts(rng, home_area),
        activity=rng.lognormal(-(ACTIVITY_SIGMA**2) / 2, ACTIVITY_SIGMA, n),
        balance=np.round(rng.gamma(2, 2, n), 2),
        crisis_areas=crisis,
        movers=int((new_home != home).sum()),
    )


def choose_crisis_areas(country: Country, config: SyntheticConfig) -> np.ndarray:
    """Admin3 areas other than the cities, populous ones first (the top quarter, in random order),
    no two touching: every crisis area then has neighbours outside the crisis to move to, and
    enough residents for the moves to survive redaction. Depends on the seed alone."""
    if config.crisis_date is None:
        return np.empty(0, dtype=np.int64)
    rng = config.rng(5)
    towns = np.setdiff1d(np.arange(len(country.population)), country.cities)
    populous = country.population[towns] >= np.quantile(country.population, 0.75)
    chosen: list[int] = []
    for area in np.concatenate([rng.permutation(towns[populous]), rng.permutation(towns[~populous])]).tolist():
        if len(chosen) < config.crisis_areas and not np.isin(country.neighbours[area], chosen).any():
            chosen.append(area)
    if len(chosen) < config.crisis_areas:
        raise ValueError(f"cannot place {config.crisis_areas} non-touching crisis areas")
    return np.sort(np.array(chosen, dtype=np.int64))


def _work_areas(rng: np.random.Generator, country: Country, home_area: np.ndarray) -> np.ndarray:
    work = home_area.copy()
    commuting = rng.random(len(home_area)) >= SAME_AREA_WORK
    for area, neighbours in enumerate(country.neighbours):  # one pass per admin3
        commuters = np.flatnonzero(commuting & (home_area == area))
        if len(neighbours):
            weights = country.population[neighbours]
            work[commuters] = rng.choice(neighbours, len(commuters), p=weights / weights.sum())
    return work


def _displace(
    rng: np.random.Generator,
    country: Country,
    network: Network,
    cells: np.ndarray,
    moves: np.ndarray,
    crisis: np.ndarray,
) -> np.ndarray:
    """`cells`, except that movers' cells in a crisis area become a random cell of a touching
    area outside the crisis: mostly the most populous one (the host), else by population."""
    moved = cells.copy()
    area = network.cell_area[cells]
    for a in crisis.tolist():  # one pass per crisis area
        leaving = np.flatnonzero(moves & (area == a))
        destinations = np.setdiff1d(country.neighbours[a], crisis)
        weights = country.population[destinations]
        p = (1 - HOST_SHARE) * weights / weights.sum() + HOST_SHARE * (weights == weights.max())
        moved[leaving] = network.random_cells(rng, rng.choice(destinations, len(leaving), p=p / p.sum()))
    return moved


def _contacts(rng: np.random.Generator, home_area: np.ndarray) -> np.ndarray:
    """Regular contacts: mostly neighbours from the same home area, the rest anyone; never oneself."""
    n = len(home_area)
    by_area = np.argsort(home_area, kind="stable")
    start = np.searchsorted(home_area[by_area], home_area)
    size = np.searchsorted(home_area[by_area], home_area, side="right") - start
    local = by_area[start[:, None] + (rng.random((n, CONTACTS)) * size[:, None]).astype(np.int64)]
    anyone = rng.integers(0, n, (n, CONTACTS))
    contacts = np.where(rng.random((n, CONTACTS)) < LOCAL_CONTACTS, local, anyone)
    me = np.arange(n)[:, None]
    return np.where(contacts == me, (me + 1) % n, contacts)
