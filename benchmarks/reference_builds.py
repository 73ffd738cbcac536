"""Embedded `journeys build` outputs kept between the benchmark scripts of one `make bench` run.

bench_yardsticks.py times the embedded build on the SSDA903 CSVs; bench_dask.py needs the same build's
files to compare the Dask engine's with, byte for byte. At 10^7 episodes that build takes a minute and a
half, so the first script keeps its output and timing here and the second reuses them, but only while
the inputs, the config, the key and every module of the package are the ones it was built with (the
folder's name is a digest of them all): edit the code and the next script builds again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "benchmarks" / "data" / "reference"
TIMING = "timing.json"


def _digest_file(path: Path, digest: Any) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)


def reference_key(inputs: Sequence[Path], config: Path, key_file: Path) -> str:
    """A digest of the inputs' names and sizes and change times, the config, the key and the package's source.

    Inputs by size and change time, not by bytes: the synthetic CSVs are written once and never edited, and
    reading 1.4 GB to hash it would cost as much as the build it saves.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in inputs):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for path in [Path(config), Path(key_file), *sorted((ROOT / "journeys").rglob("*.py")),
                 *sorted((ROOT / "pathway_configs").rglob("*.yaml"))]:
        digest.update(path.name.encode())
        _digest_file(path, digest)
    return digest.hexdigest()[:24]


def _folder(label: str, key: str) -> Path:
    return FOLDER / f"{label}-{key}"


def kept(label: str, key: str) -> tuple[Path, dict[str, Any]] | None:
    """The kept build folder and its timing for these inputs and code, or None."""
    folder = _folder(label, key)
    if (folder / TIMING).is_file() and (folder / "report.json").is_file():
        return folder, json.loads((folder / TIMING).read_text())
    return None


def keep(label: str, key: str, out: Path, timing: dict[str, Any]) -> Path:
    """Keep `out` (a complete build folder, moved: made under FOLDER, a rename) and how it was timed; earlier
    builds of the same label go."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    for old in FOLDER.glob(f"{label}-*"):
        shutil.rmtree(old, ignore_errors=True)
    folder = _folder(label, key)
    shutil.move(out, folder)
    (folder / TIMING).write_text(json.dumps(timing, indent=2))
    return folder
