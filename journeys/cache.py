"""Builds on disk: write and read a build folder, and reuse one when inputs, config and code are unchanged.

The cache key is a SHA-256 over every input file's own SHA-256 (remembered in the cache folder
while the file's size, inode and time stay the same), the config, the stage model and the
package's own source, so a changed return, rule or release always rebuilds and nothing stale is
ever shown. Caches hold pseudonymised ids only (DESIGN 7).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from journeys.attributes import journey_attributes
from journeys.errors import BuildError
from journeys.parquet_out import write_parquet
from journeys.pseudonymise import load_key
from journeys.stages import DEFAULT_STAGE_MODEL

if TYPE_CHECKING:  # the pipeline (and pandera) load only when something is built: a start from cache is quicker
    from journeys.pipeline import BuildResult

BUILD_FILES = ("episodes.parquet", "spells.parquet", "transitions.parquet", "report.json", "issues.csv")
ATTRIBUTES_FILE = "journey_attributes.parquet"
SOURCE = "source.json"  # in a cached build: the config that made it and its fingerprint (so older versions can go)
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Build:
    """A build read back for the app: spells, each journey's attributes and the report."""

    folder: Path
    spells: pd.DataFrame
    attributes: pd.DataFrame
    report: dict[str, object]

    @property
    def authority(self) -> str:
        return str(self.report["authority"])


def write_build(result: BuildResult, out: Path) -> None:
    """Write a build's four contract files, issues.csv and the journey attributes the app filters on."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)  # a build half overwritten must not look complete
    # the tables are written on two other threads while the attributes are worked out (Arrow writes without the
    # GIL; at 10^7 episodes, one thread left the build waiting 6.8 s for its writes), the longest first, so that
    # neither thread is left with a long one at the end
    jobs: list[tuple[Callable[..., object], tuple[object, ...]]] = []
    if result.kept is not None:  # what a later build adds to (journeys.incremental): about as long as the rest
        from journeys.kept import Kept, write_kept

        assert isinstance(result.kept, Kept)
        jobs.append((write_kept, (result.kept, out)))
    jobs += [(write_parquet, (result.episodes, out / "episodes.parquet")),
             (write_parquet, (result.transitions, out / "transitions.parquet")),
             (write_parquet, (result.spells, out / "spells.parquet")),
             (partial(result.issues.to_csv, index=False), (out / "issues.csv",))]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="journeys-write") as writer:
        written = [writer.submit(job, *arguments) for job, arguments in jobs]
        attributes = journey_attributes(result.episodes, result.spells) if result.attributes is None \
            else result.attributes
        for done in written:
            done.result()  # a failed write fails the build here
    write_parquet(attributes, out / ATTRIBUTES_FILE)
    # report last: its presence marks a complete build
    (out / "report.json").write_text(json.dumps(result.report, indent=2, default=str), encoding="utf-8")


def read_build(folder: Path) -> Build:
    """Read a build folder written by `journeys build` (attributes are derived and saved if missing)."""
    folder = Path(folder)
    missing = [name for name in ("spells.parquet", "report.json") if not (folder / name).is_file()]
    if missing:
        raise BuildError(f"{folder} is not a Care Journeys build folder: {', '.join(missing)} missing",
                         fix="point at a folder written by `journeys build --out`, or build one first.")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    spells = pd.read_parquet(folder / "spells.parquet")
    attributes_path = folder / ATTRIBUTES_FILE
    if attributes_path.is_file():
        attributes = pd.read_parquet(attributes_path)
    else:
        attributes = journey_attributes(pd.read_parquet(folder / "episodes.parquet"), spells)
        write_parquet(attributes, attributes_path)
    return Build(folder, spells, attributes, report)


def _digest_file(path: Path, digest: hashlib._Hash) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)


_IMPORTS = re.compile(r"^[ \t]*(?:from[ \t]+(journeys(?:\.\w+)+)[ \t]+import|import[ \t]+(journeys(?:\.\w+)+))", re.M)


def _pipeline_source() -> list[Path]:
    """The package modules a build runs: journeys.pipeline and everything it imports from journeys, found by
    reading import statements (so editing the app's pages, charts or a new module keeps the caches).

    A line-start pattern, not a parse: ast took 0.28 s of every build; a docstring line that looks like
    an import can only add a file to the key, never leave one out.
    """
    seen: set[Path] = set()
    todo = [_PACKAGE / "pipeline.py", _PACKAGE / "attributes.py", _PACKAGE / "cache.py"]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for match in _IMPORTS.finditer(path.read_text(encoding="utf-8")):
            base = _PACKAGE.joinpath(*(match.group(1) or match.group(2)).split(".")[1:])
            todo += [base.with_suffix(".py"), base / "__init__.py"]
    return sorted(seen)


DIGESTS_FILE = "input-digests.json"
_SETTLED_SECONDS = 2.0  # a file changed more recently than this is hashed every time (its mtime may not move again)


def _input_digest(path: Path, memo: dict[str, dict[str, object]]) -> str:
    """SHA-256 of an input's bytes, remembered by its path, size, inode and modification time: a restart need
    not re-read an unchanged extract (0.7 s for 10^7 episodes' CSV). Any change to the file changes those."""
    stat = path.stat()
    seen = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    key = str(path.resolve())
    entry = memo.get(key)
    if entry is not None and all(entry.get(k) == v for k, v in seen.items()):
        return str(entry["sha256"])
    digest = hashlib.sha256()
    _digest_file(path, digest)
    if time.time() - stat.st_mtime > _SETTLED_SECONDS:
        memo[key] = {**seen, "sha256": digest.hexdigest()}
    return digest.hexdigest()


def _read_digests(cache_root: Path | None) -> dict[str, dict[str, object]]:
    try:
        return dict(json.loads((Path(cache_root) / DIGESTS_FILE).read_text(encoding="utf-8"))) if cache_root else {}
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: hash the files


def _write_digests(cache_root: Path | None, memo: dict[str, dict[str, object]]) -> None:
    if cache_root is None:
        return
    target = Path(cache_root) / DIGESTS_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(memo, indent=1), encoding="utf-8")
        partial.replace(target)  # whole or not at all: another start may read it meanwhile
    except OSError:
        pass  # only a shortcut: the next start hashes again


def cache_key(config: Path, inputs: Sequence[Path], stage_model: Path | None = None,
              cache_root: Path | None = None) -> str:
    """SHA-256 of the inputs' bytes (in name order), the config, the stage model, the pipeline's source and
    a fingerprint of the pseudonymisation key. With `cache_root`, the inputs' digests are remembered there."""
    digest = hashlib.sha256()
    memo = _read_digests(cache_root)
    remembered = dict(memo)
    for path in sorted((Path(p) for p in inputs), key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(bytes.fromhex(_input_digest(path, memo)))
    if memo != remembered:
        _write_digests(cache_root, memo)
    for path in [Path(config), Path(stage_model) if stage_model else DEFAULT_STAGE_MODEL, *_pipeline_source()]:
        digest.update(path.name.encode())
        _digest_file(path, digest)
    # the pseudonymisation key, by a fingerprint only: a new key means new pseudonyms, so a new build
    digest.update(hashlib.sha256(b"care-journeys cache " + load_key().encode()).digest())
    return digest.hexdigest()[:24]


def fingerprint(config: Path, stage_model: Path | None = None) -> str:
    """The cache key of no inputs: the config, stage model, code and key a build adds to must share."""
    return cache_key(config, [], stage_model)


def input_digest(cache_root: Path | None = None) -> Callable[[Path], str]:
    """SHA-256 of an input's bytes, remembered in `cache_root` (when given) as cache_key does."""
    memo = _read_digests(cache_root)
    remembered = dict(memo)

    def digest(path: Path) -> str:
        value = _input_digest(Path(path), memo)
        if memo != remembered:
            _write_digests(cache_root, memo)
            remembered.update(memo)
        return value

    return digest


def cached_build(config: Path, inputs: Sequence[Path], cache_root: Path,
                 run: Callable[[], BuildResult], stage_model: Path | None = None) -> Path:
    """The build folder for these inputs, running `run` only when no complete build with the same key exists."""
    folder = Path(cache_root) / cache_key(config, inputs, stage_model, cache_root)
    if not (folder / "report.json").is_file():
        write_build(run(), folder)
    return folder


def build_inputs(config: Path, inputs: Sequence[Path], cache_root: Path, stage_model: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> Build:
    """Build (or reuse the cached build of) an authority's inputs under its config, and read it back."""
    from journeys.config import load_config
    from journeys.incremental import build_adding, earlier_build
    from journeys.stages import load_stage_model

    replaced: list[tuple[Path, str]] = []
    source, made = str(Path(config).resolve()), dict[str, str]()

    def run() -> BuildResult:
        """This month's extract added to the cached build of the earlier ones where there is one, else all."""
        model = load_stage_model(stage_model)
        fingerprinted, digest = fingerprint(config, stage_model), input_digest(cache_root)
        base = earlier_build(cache_root, list(inputs), fingerprinted, digest)
        made.update(config=source, fingerprint=fingerprinted)
        replaced.extend([] if base is None else [(base, "which this one replaces")])
        replaced.extend((stale, "made under another version of this config or of the tool")
                        for stale, other in _builds_of(cache_root, source) if other != fingerprinted)
        replaced.extend((old, "made by a version of the tool that did not record its config")
                        for old in unrecorded_builds(cache_root))
        return build_adding(list(inputs), load_config(config, model), model, load_key(), base=base,
                            fingerprint=fingerprinted, digest=digest, progress=progress or (lambda _: None))[0]

    folder = cached_build(config, inputs, cache_root, run, stage_model)
    if made:  # a new build: say which config made it and under which fingerprint, then remove what it makes needless
        (folder / SOURCE).write_text(json.dumps(made), encoding="utf-8")
    for earlier, why in replaced:
        _remove_replaced(earlier, folder, why, progress or (lambda _: None))
    if progress:
        progress(f"Reading the build from {folder}")
    return read_build(folder)


def _builds_of(cache_root: Path, source: str) -> list[tuple[Path, str]]:
    """The cached builds that `source` (a config file's resolved path) made, with the fingerprint (config, stage
    model, code, key) each was made under, as their SOURCE file says."""
    found = []
    for path in Path(cache_root).glob(f"*/{SOURCE}"):
        try:
            made = json.loads(path.read_text(encoding="utf-8"))
            if made["config"] == source:
                found.append((path.parent, str(made["fingerprint"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or being written: left alone
    return found


_KEY_NAME = re.compile(r"[0-9a-f]{24}")  # a cached build's folder: cache_key's 24 hex digits
UNRECORDED_AFTER_SECONDS = 3600.0  # a build this old with no SOURCE is not one still being written


def unrecorded_builds(cache_root: Path, now: float | None = None) -> list[Path]:
    """Cached builds that say nothing of the config that made them: written before builds recorded it (tool
    versions before December 2026), whose keys no build asks for again since the code has changed. Only
    folders named as cache_key names them, complete, and settled for an hour (a build being finished by
    another process writes its SOURCE moments after its report)."""
    now = time.time() if now is None else now
    found = []
    for report in Path(cache_root).glob("*/report.json"):
        folder = report.parent
        try:
            settled = now - report.stat().st_mtime > UNRECORDED_AFTER_SECONDS
        except OSError:
            continue
        if _KEY_NAME.fullmatch(folder.name) and settled and not (folder / SOURCE).exists():
            found.append(folder)
    return sorted(found)


def _remove_replaced(earlier: Path, folder: Path, why: str, progress: Callable[[str], None]) -> None:
    """Remove a cached build a new one makes needless: the one it was added to (or could have been), so the cache
    does not grow by a build a month, or one of the same config made under another version of it or of the tool.
    The new build holds its own links to the rows it carried on; were the earlier inputs or versions served again,
    they would be built again. A folder that cannot be removed is left, and said."""
    if earlier.resolve() == folder.resolve() or not (folder / "report.json").is_file() or not earlier.is_dir():
        return
    try:
        shutil.rmtree(earlier)
    except OSError as error:
        progress(f"Could not remove the earlier build {earlier.name}, {why}: {error}")
    else:
        progress(f"Removed the earlier build {earlier.name}, {why}")


SAMPLES = ("northgate", "riverside", "westmoor")


def sample_builds(root: Path, cache_root: Path, progress: Callable[[str], None] | None = None,
                  stage_model: Path | None = None) -> list[Build]:
    """The bundled synthetic authorities (data_samples/), built once and then read from the cache."""
    builds = []
    for name in SAMPLES:
        files = sorted(p for p in (root / "data_samples" / name).iterdir() if p.is_file() and p.name != "README.md")
        builds.append(build_inputs(root / "pathway_configs" / f"{name}.yaml", files, cache_root, stage_model, progress))
    return builds
