"""`write_world`: every raw file of the synthetic world, in the order that fixes its bytes.

The world is written into a staging folder beside the raw folder and renamed into place, so a
kill mid-write leaves the previous world (or nothing) rather than a half-written raw folder;
a staging folder whose writer is gone is recognised by its name and removed at the next start.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from features.synthetic.events import EventVolumes, remove_stale, write_event_tables
from features.synthetic.files import (
    write_cpi,
    write_crossings,
    write_governance,
    write_judicial,
    write_population,
    write_press_freedom,
    write_procurement,
    write_tiers,
)
from features.synthetic.latent import simulate
from features.synthetic.truth import planted_truth
from nexus.manifest import atomic_write_text
from nexus.processes import alive


def write_world(raw: Path, seed: int, n_countries: int, first_year: int, last_year: int,
                crossing_events_per_country_year: int, processes_per_country_year: int,
                progress=None, *, scale: int = 1, court_cases_per_country_year: int = 10,
                press_incidents_per_country_year: int = 6) -> dict[str, list[Path]]:
    """Write every raw file of the synthetic world under `raw`; return them by source folder.

    `scale` > 1 writes the event tables of features/synthetic/events.py instead of the two
    small event files (same world, volumes × scale, plus court cases and press incidents).
    `raw` is replaced as a whole: it holds the world and nothing else.
    """
    raw = Path(raw).absolute()
    remove_abandoned_staging(raw)
    staging = raw.parent / f"{STAGING_PREFIX.format(name=raw.name)}{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        files = _write_files(staging, seed, n_countries, first_year, last_year, crossing_events_per_country_year,
                             processes_per_country_year, progress, scale, court_cases_per_country_year,
                             press_incidents_per_country_year)
        _move_into_place(staging, raw)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {k: [raw / p.relative_to(staging) for p in v] for k, v in files.items()}


STAGING_PREFIX = ".{name}.writing-"  # + the writer's pid
REPLACED_PREFIX = ".{name}.replaced-"


def remove_abandoned_staging(raw: Path) -> list[Path]:
    """Remove staging and replaced folders of `raw` whose writer process is gone; return them."""
    removed = []
    for prefix in (STAGING_PREFIX, REPLACED_PREFIX):
        stem = prefix.format(name=raw.name)
        for folder in raw.parent.glob(f"{stem}*"):
            pid = folder.name[len(stem):]
            if folder.is_dir() and pid.isdigit() and (int(pid) == os.getpid() or not alive(int(pid))):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def _move_into_place(staging: Path, raw: Path) -> None:
    """Rename `staging` to `raw`; an existing `raw` is moved aside first and removed after."""
    if raw.is_dir() and not any(raw.iterdir()):
        raw.rmdir()
    if not raw.exists():
        os.rename(staging, raw)
        return
    aside = raw.parent / f"{REPLACED_PREFIX.format(name=raw.name)}{os.getpid()}"
    os.rename(raw, aside)
    os.rename(staging, raw)
    shutil.rmtree(aside, ignore_errors=True)


def _write_files(raw: Path, seed, n_countries, first_year, last_year, crossing_events_per_country_year,
                 processes_per_country_year, progress, scale, court_cases_per_country_year,
                 press_incidents_per_country_year) -> dict[str, list[Path]]:
    world = simulate(seed, n_countries, first_year, last_year)
    rng = np.random.default_rng(seed + 1)
    step = progress or (lambda msg: None)
    files: dict[str, list[Path]] = {}
    step("press freedom editions")
    files["rsf_wpfi"] = write_press_freedom(world, raw, rng)
    step("governance indicators")
    wgi_path, wgi = write_governance(world, raw, rng)
    files["wb_wgi"] = [wgi_path]
    step("rule-of-law index")
    wjp_path, absence = write_judicial(world, raw, rng)
    files["wjp_roli"] = [wjp_path]
    step("corruption perceptions index")
    files["ti_cpi"] = [write_cpi(world, raw, rng, wgi, absence)]
    step("population")
    files["wb_wdi"] = [write_population(world, raw)]
    remove_stale(raw, scale)
    if scale == 1:
        step("border-crossing events")
        files["border_crossings"] = write_crossings(world, raw, rng, crossing_events_per_country_year)
        step("procurement (OCDS)")
        files["ocds"] = [write_procurement(world, raw, rng, processes_per_country_year)]
    else:
        volumes = EventVolumes(processes_per_country_year, crossing_events_per_country_year,
                               court_cases_per_country_year, press_incidents_per_country_year)
        files |= write_event_tables(world, raw, seed, volumes.times(scale), progress=step, scale=scale)
    step("tier placements")
    files["us_state_tip"] = [write_tiers(world, raw)]
    atomic_write_text(raw / "planted_truth.json", json.dumps(planted_truth(world, seed), indent=2))
    return files
