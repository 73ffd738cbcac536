"""What the running app holds: the loaded builds, the combined working set, and builds in progress."""

from __future__ import annotations

import datetime as dt
import gc
import secrets
import shutil
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from journeys.cache import Build
from journeys.errors import JourneysError
from journeys.flows import Period
from journeys.selection import JourneyData
from journeys.stages import StageModel, load_stage_model
from journeys.suppress import DEFAULT_THRESHOLD


@dataclass
class BuildJob:
    """One build started from the Data page: its progress lines and how it ended."""

    authority: str
    messages: list[str] = field(default_factory=list)
    done: bool = False
    error: str | None = None


class AppState:
    """Server-side state of one app: loaded builds by authority, combined into one JourneyData."""

    def __init__(self, builds: list[Build] | None = None, stage_model: StageModel | None = None,
                 cache_root: Path = Path("build/cache"), threshold: int = DEFAULT_THRESHOLD,
                 allow_folders: bool = True, population: pd.DataFrame | None = None) -> None:
        self.stage_model = stage_model or load_stage_model()
        self.cache_root = Path(cache_root)
        self.threshold = threshold
        self.allow_folders = allow_folders  # reading a folder on the server: loopback analysts only
        self.viewer_secret: str | None = None  # set for viewers once sign-in exists: counts get cell-key noise
        self.population = population  # authority, year, population_0_17: for rates per 10,000 children
        self.builds: dict[str, Build] = {}
        self.jobs: dict[str, BuildJob] = {}
        self._held: dict[str, tuple[list[Path], Path | None]] = {}  # token -> (files, upload folder to delete)
        self._lock = threading.Lock()
        self._data: JourneyData | None = None
        self._first_day: dt.date | None = None  # the data's first day, found once per load (not per play step)
        self.warming: threading.Thread | None = None  # codes the quarters' spells after a load (views.warm_up)
        for build in builds or []:
            self.add(build)

    def add(self, build: Build) -> None:
        """Load (or replace) an authority's build and rebuild the combined working set."""
        gc.unfreeze()  # the working set being replaced may be collected again (views.warm_up froze it)
        with self._lock:
            self.builds[build.authority] = build
            builds = list(self.builds.values())
            self._data = JourneyData(pd.concat([b.spells for b in builds], ignore_index=True),
                                     [b.attributes for b in builds])
            self._first_day = pd.Timestamp(self._data.spells["start"].min()).date()
            data = self._data
        from journeys.views import warm_up

        # every quarter a page can count: those offered, thirteen before (the trends' twelve quarters and
        # the links two further) and three after (the per-stage panel's neighbours' links), the latest first:
        # the flows page opens there. About 14 ms and 0.75 MB a quarter at 10^6 episodes (much less
        # before the data begin), so no filter change waits for it.
        reach = list(self.quarters())
        if reach:
            for _ in range(13):
                reach.insert(0, reach[0].previous())
            for _ in range(3):
                reach.append(reach[-1].next())
        self.warming = threading.Thread(target=warm_up, args=(data, self.stage_model, reach[::-1]),
                                        kwargs={"current": lambda: self._data is data}, name="warm-up", daemon=True)
        self.warming.start()

    @property
    def data(self) -> JourneyData | None:
        return self._data

    @property
    def empty(self) -> bool:
        return self._data is None

    def extract_dates(self) -> dict[str, str]:
        """Each authority's extract (censoring) date, shown wherever results are."""
        with self._lock:
            builds = sorted(self.builds.items())
        return {name: str(b.report.get("extract_date", "")) for name, b in builds}

    def hold_inputs(self, files: list[Path], upload_folder: Path | None) -> str:
        """Keep a list of input files on the server and hand the browser an opaque token for it."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._held[token] = (list(files), upload_folder)
        return token

    def held_inputs(self, token: str) -> list[Path]:
        with self._lock:
            return list(self._held.get(token, ([], None))[0])

    def release_inputs(self, token: str | None) -> None:
        """Forget the files of a token, deleting uploaded copies (child-level data stays nowhere it need not)."""
        with self._lock:
            _, folder = self._held.pop(token or "", ([], None))
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def stage_labels(self) -> dict[str, str]:
        """Label -> id of every stage a child can be in (what a click on a Sankey node can narrow to)."""
        return {self.stage_model.get(s).label: s for s in self.stage_model.of_kind("stage")}

    def years(self) -> list[int]:
        """Financial years (by their 31 March) the pages offer, up to the latest extract date."""
        from journeys.views import overview_years
        if self._data is None:
            return []
        return overview_years(self._data, [dt.date.fromisoformat(d) for d in self.extract_dates().values() if d])

    def quarters(self) -> list[Period]:
        """Quarters the flows page offers: the last ten years of the data, up to the earliest extract date."""
        from journeys.views import quarters
        return quarters([dt.date.fromisoformat(d) for d in self.extract_dates().values() if d], self._first_day)

    def start_job(self, authority: str, work: Callable[[Callable[[str], None]], Build],
                  release: str | None = None) -> BuildJob | None:
        """Run a build in a background thread (None if one for this authority is still running)."""
        with self._lock:
            running = self.jobs.get(authority)
            if running is not None and not running.done:
                return None
            job = BuildJob(authority)
            self.jobs[authority] = job

        def run() -> None:
            try:
                self.add(work(job.messages.append))
                job.messages.append("Built and loaded.")
            except JourneysError as exc:
                job.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - the page shows a sentence, never a traceback
                job.error = (f"Something unexpected went wrong ({type(exc).__name__}: {exc}). This is a fault in "
                             "Care Journeys, not in your data; the server log has the details.")
                traceback.print_exc()
            finally:
                self.release_inputs(release)
                job.done = True

        threading.Thread(target=run, name=f"build-{authority}", daemon=True).start()
        return job
