"""CIN census files parsed in other processes, one per CPU, while the build reads its other inputs.

The census walk (journeys.cin_reader) is Python code, which one process runs on one CPU: at 10^6 census
episodes it was 70% of the build. Each helper process is `python -m journeys.census_apart FILE...`, a fresh
interpreter (never a fork of a process that may hold the app's or Arrow's threads, nor a re-run of the caller's
script, as multiprocessing's spawn would do to a script without a main guard). It sends each file's census back
down its standard output, pickled: nothing is written to disk. A file whose process fails is parsed here.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from journeys.cin import CinCensus, read_cin_census
from journeys.errors import JourneysError

#: Census files of more bytes than this in all are parsed apart: below it, starting a Python process (about
#: half a second of imports) costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Unreadable:
    """A census file another process could not read: the error sent back as plain values (the exception itself
    holds lxml's error log, which does not pickle)."""

    kind: type[JourneysError]
    what: str
    where: str | None
    fix: str | None


def parse_or_error(path: Path) -> CinCensus | Unreadable:
    """read_cin_census in another process (a helper's or a cluster worker's), its JourneysError returned."""
    try:
        return read_cin_census(Path(path))
    except JourneysError as error:
        return Unreadable(type(error), error.what, error.where, error.fix)


def raised(parsed: CinCensus | Unreadable) -> CinCensus:
    """The census, or the other process's error raised here, as reading the file here would raise it."""
    if isinstance(parsed, Unreadable):
        raise parsed.kind(parsed.what, where=parsed.where, fix=parsed.fix)
    return parsed


def cpus() -> int:
    """The CPUs this process may run on (a container's or a job's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shares(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """The files (by position) each process parses: the biggest first, each to the least loaded process.

    >>> shares([5, 1, 4, 3], 2)
    [[0, 1], [2, 3]]
    """
    loads, out = [0] * workers, [[] for _ in range(workers)]  # type: list[int], list[list[int]]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        least = loads.index(min(loads))
        out[least].append(i)
        loads[least] += sizes[i]
    return [share for share in out if share]


class _Helper:
    """One helper process and the thread that reads its censuses as they arrive (a pipe must be drained)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths, self.results = paths, {}  # type: list[Path], dict[Path, CinCensus | Unreadable]
        package_root = str(Path(__file__).resolve().parent.parent)  # importable however the caller found it
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen([sys.executable, "-m", "journeys.census_apart", *map(str, paths)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=env)
        self.reader = threading.Thread(target=self._read, name="census-apart", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            for path in self.paths:
                self.results[path] = pickle.load(stream)
        except Exception:  # noqa: BLE001 - the process died or sent nonsense: its files are parsed in the caller
            pass
        finally:
            stream.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join()


@contextmanager
def parsing_apart(paths: Sequence[Path], min_bytes: int | None = None) -> Iterator[Collector | None]:
    """Start parsing the census files in helper processes now; yields how to collect their censuses, in the
    files' order (None: too few files, bytes or CPUs to gain, so the caller parses them). Every helper is gone
    when the block ends, finished or not."""
    paths = [Path(p) for p in paths]
    sizes = [p.stat().st_size if p.is_file() else 0 for p in paths]
    workers = min(len(paths), cpus())
    if workers < 2 or sum(sizes) <= (PARALLEL_MIN_BYTES if min_bytes is None else min_bytes):
        yield None
        return
    collect = Collector(paths)
    try:
        for share in shares(sizes, workers):
            collect.helpers.append(_Helper([paths[i] for i in share]))
    except OSError:  # no process could start (limits, a locked-down machine): what started is still used
        pass
    try:
        yield collect
    finally:
        for helper in collect.helpers:
            helper.stop()


class Collector:
    """The census files' helpers, and (called) their censuses in the files' order; a file no helper sent back
    is parsed here."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths, self.helpers = paths, []  # type: list[Path], list[_Helper]

    def __call__(self, _: Sequence[Path]) -> list[CinCensus]:
        done: dict[Path, CinCensus | Unreadable] = {}
        for helper in self.helpers:
            helper.reader.join()
            done.update(helper.results)
        return [raised(done[p] if p in done else parse_or_error(p)) for p in self.paths]


def _serve(files: list[str], out: IO[bytes]) -> None:
    """A helper's work: each file's census (or its error) pickled to `out` as soon as it is parsed."""
    for file in files:
        pickle.dump(parse_or_error(Path(file)), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    from journeys import census_apart  # by its name, so that an Unreadable pickles as the caller knows it

    channel = os.fdopen(os.dup(1), "wb")  # the censuses go here; anything else printed goes to stderr
    os.dup2(2, 1)
    census_apart._serve(sys.argv[1:], channel)
