"""The Dask engine: partitions of children on a real local cluster give exactly the embedded build's outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from journeys.attributes import journey_attributes
from journeys.config import load_config
from journeys.partitioned import local_client, partition_of, run_partitioned
from journeys.pipeline import BuildResult, run_pipeline
from tests.conftest import KEY, ROOT, write_episodes

SAMPLES = ROOT / "data_samples"


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two worker processes on 127.0.0.1, shared by the module's tests (starting one takes a few seconds)."""
    dask_client, stack = local_client(2)
    with stack:
        yield dask_client


def assert_same(embedded: BuildResult, partitioned: BuildResult) -> None:
    for name in ("episodes", "spells", "transitions", "issues"):
        pd.testing.assert_frame_equal(getattr(embedded, name), getattr(partitioned, name), check_exact=True)
    assert json.dumps(embedded.report, default=str) == json.dumps(partitioned.report, default=str)
    assert partitioned.attributes is not None  # worked out in the partitions, as the embedded build works them out
    pd.testing.assert_frame_equal(journey_attributes(embedded.episodes, embedded.spells), partitioned.attributes,
                                  check_exact=True)


def messy_inputs(folder: Path) -> list[Path]:
    """Northgate's nine SSDA903 returns (later returns supersede earlier ones) and a file of problems: a
    date that does not exist, a repeated row, a blank child id, a child that appears in no other file."""
    returns = sorted((SAMPLES / "northgate").glob("ssda903_*.csv"))
    problems = write_episodes(folder / "ssda903_episodes_extra.csv", [
        ("N900001", "31/02/2021", "S", "C2", "U4", "", ""),
        ("N900002", "01/04/2021", "S", "C2", "U4", "01/06/2021", "E11"),
        ("N900002", "01/04/2021", "S", "C2", "U4", "01/06/2021", "E11"),
        ("", "01/05/2021", "S", "C2", "U4", "", ""),
        ("N900003", "01/01/2022", "S", "C2", "T1", "10/01/2022", "X1"),
        ("N900003", "10/01/2022", "P", "C2", "U4", "", ""),
    ])
    unreadable = folder / "not_episodes.csv"
    unreadable.write_text("CHILD,DECOM\nN900004,01/01/2022\nN900005,02/01/2022\n", encoding="utf-8")
    return [*returns, problems, unreadable]


def test_a_child_never_spans_two_partitions() -> None:
    ids = pd.Series(["A1", "B2", "A1", None, "C3", None, "B2"])
    part = partition_of(ids, "northgate", 3)
    assert part.min() >= 0 and part.max() < 3
    assert part[0] == part[2] and part[1] == part[6] and part[3] == part[5]
    assert (partition_of(ids, "northgate", 3) == part).all()  # the same every time


def test_keyed_children_spread_over_the_partitions_and_stay_whole() -> None:
    """Keyed ids (UInt64 numbers, as a build partitions them) hash as numbers: a child's rows together, the blank
    ids together, the children spread evenly, and another authority's the same children spread otherwise."""
    from journeys.pseudonymise import pseudonymise_keys

    keyed = pseudonymise_keys(pd.Series([f"C{i}" for i in range(20_000)] * 2 + [None, None]), KEY)
    part = partition_of(keyed, "northgate", 4)
    assert (part[:20_000] == part[20_000:40_000]).all() and part[40_000] == part[40_001]
    assert part[40_000] == partition_of(pd.Series([None], dtype="str"), "northgate", 4)[0]
    shares = np.bincount(part[:20_000], minlength=4) / 20_000
    assert shares.min() > 0.23 and shares.max() < 0.27
    elsewhere = partition_of(keyed, "westmoor", 4)
    assert 0.70 < (elsewhere[:20_000] != part[:20_000]).mean() < 0.80  # independent: 3 in 4 move


def test_messy_returns_build_the_same_in_partitions(client: object, tmp_path: Path) -> None:
    config = load_config(ROOT / "pathway_configs" / "northgate.yaml")
    inputs = messy_inputs(tmp_path)
    embedded = run_pipeline(inputs, config, key=KEY)
    report = embedded.report
    # the fixture exercises every way a row can go
    assert report["rows_superseded"] > 0 and report["rows_ignored"] > 0
    assert {"missing-column", "duplicate-episode"} <= set(report["quarantined_by_reason"])  # type: ignore[arg-type]
    for partitions in (1, 5, 64):  # 64: more partitions than some tables have children (empty ones build too)
        assert_same(embedded, run_partitioned(inputs, config, client=client, key=KEY, partitions=partitions))


def test_a_partitioned_build_keeps_what_the_next_adds_to(client: object, tmp_path: Path) -> None:
    """The Dask engine keeps what the embedded build keeps: the next month's files added to it (embedded,
    `--from`) give the build of every input. The workers were sent keyed children, never their ids."""
    from journeys.cache import fingerprint, input_digest, write_build
    from journeys.incremental import STATE_DIR, build_adding
    from journeys.stages import load_stage_model

    path = ROOT / "pathway_configs" / "northgate.yaml"
    model = load_stage_model()
    config = load_config(path, model)
    inputs = messy_inputs(tmp_path)
    options = {"fingerprint": fingerprint(path), "digest": input_digest()}
    partitioned = run_partitioned(inputs[:-4], config, client=client, key=KEY, partitions=5, **options)
    assert partitioned.kept is not None
    embedded = build_adding(inputs[:-4], config, model, KEY, base=None, **options)[0]
    for name in ("episodes", "header"):  # what is kept is the same as the embedded build's
        pd.testing.assert_frame_equal(partitioned.kept.rows[name], embedded.kept.rows[name])  # type: ignore[attr-defined]
    write_build(partitioned, tmp_path / "dask")
    assert (tmp_path / "dask" / STATE_DIR / "manifest.json").is_file()
    added, why = build_adding(inputs, config, model, KEY, base=tmp_path / "dask", **options)
    assert why is None
    assert_same(run_pipeline(inputs, config, key=KEY), added)


def test_local_extract_with_front_door_builds_the_same_in_partitions(client: object) -> None:
    config = load_config(ROOT / "pathway_configs" / "riverside.yaml")
    inputs = sorted((SAMPLES / "riverside").glob("*.csv"))
    embedded = run_pipeline(inputs, config, key=KEY)
    assert (embedded.episodes["source"] == "front_door").any()
    assert_same(embedded, run_partitioned(inputs, config, client=client, key=KEY, partitions=6))


def test_the_local_cluster_listens_on_this_computer_only(client: object) -> None:
    workers = client.scheduler_info()["workers"]  # type: ignore[attr-defined]
    assert len(workers) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")  # type: ignore[attr-defined]


def test_cin_census_with_care_returns_builds_the_same_in_partitions(client: object) -> None:
    """Northgate's nine years of SSDA903 returns and CIN census XML: children referred, in need, on plans and in
    care, joined into one journey each, built the same in partitions of children (the census stacked and keyed
    by the driver, each partition given its children's blocks)."""
    config = load_config(ROOT / "pathway_configs" / "northgate.yaml")
    inputs = sorted((SAMPLES / "northgate").iterdir())
    embedded = run_pipeline(inputs, config, key=KEY)
    report = embedded.report
    census = [entry for entry in report["inputs"] if entry["table"] in ("cin_children", "cin_details")]  # type: ignore[union-attr, index]
    assert len(census) == 18 and sum(entry["rows_superseded"] for entry in census) > 0  # type: ignore[misc]
    assert (embedded.episodes["source"] == "cin").any() and "cin" in report["extract_dates"]  # type: ignore[operator]
    for partitions in (1, 7):
        assert_same(embedded, run_partitioned(inputs, config, client=client, key=KEY, partitions=partitions))


def test_cin_census_problems_build_the_same_in_partitions(client: object, tmp_path: Path) -> None:
    """A census return with a repeated child, a block with a service code no rule maps, and a child with no id."""
    source = SAMPLES / "northgate" / "cin_census_2024-25.xml"
    text = source.read_text(encoding="utf-8")
    first = text.index("<Child>")
    child = text[first:text.index("</Child>", first) + len("</Child>")]
    broken = child.replace("<LAchildID>", "<LAchildID>X", 1).replace("RC9<", "RC99<", 1)  # a reason no rule maps
    blank = child.replace(child[child.index("<LAchildID>"):child.index("</LAchildID>")], "<LAchildID>", 1)
    odd = text.replace(child, child + child + broken + blank, 1)
    (tmp_path / "cin_census_2024-25.xml").write_text(odd, encoding="utf-8")
    config = load_config(ROOT / "pathway_configs" / "northgate.yaml")
    inputs = [*sorted((SAMPLES / "northgate").glob("ssda903_*2024-25.csv")), tmp_path / "cin_census_2024-25.xml"]
    embedded = run_pipeline(inputs, config, key=KEY)
    reasons = embedded.report["quarantined_by_reason"]  # settled by the driver's stacking, and by a partition:
    assert {"duplicate-child", "duplicate-cin-details", "missing-child-id", "unknown-exit-code"} <= set(reasons)  # type: ignore[arg-type]
    assert_same(embedded, run_partitioned(inputs, config, client=client, key=KEY, partitions=4))


def journeys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "journeys.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_dask_engine_writes_the_same_files(tmp_path: Path) -> None:
    inputs = [str(p) for p in sorted((SAMPLES / "riverside").glob("*.csv"))]
    config = str(ROOT / "pathway_configs" / "riverside.yaml")
    embedded = journeys("build", "--quiet", "--config", config, *inputs, "--out", str(tmp_path / "embedded"))
    assert embedded.returncode == 0, embedded.stderr
    dask = journeys("build", "--config", config, *inputs, "--out", str(tmp_path / "dask"), "--engine", "dask",
                    "--workers", "1", "--partitions", "3", "--work-dir", str(tmp_path / "work"))
    assert dask.returncode == 0, dask.stderr
    assert "Building 3 partitions on Dask" in dask.stderr
    assert sorted((tmp_path / "work" / "authority=riverside").iterdir()) == [
        tmp_path / "work" / "authority=riverside" / f"bucket={k}" for k in range(3)]
    for name in ("episodes.parquet", "spells.parquet", "transitions.parquet", "journey_attributes.parquet",
                 "issues.csv", "report.json"):
        assert (tmp_path / "embedded" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_cli_dask_options_need_the_dask_engine(tmp_path: Path) -> None:
    done = journeys("build", "--config", str(ROOT / "pathway_configs" / "riverside.yaml"),
                    str(SAMPLES / "riverside" / "placements.csv"), "--out", str(tmp_path), "--scheduler",
                    "tcp://127.0.0.1:8786")
    assert done.returncode == 2
    assert "--scheduler, --workers, --partitions and --work-dir go with --engine dask" in done.stderr


def test_cli_says_when_the_scheduler_cannot_be_reached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    import journeys.cli as cli

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(cli, "SCHEDULER_TIMEOUT_S", 2)
    assert cli.main(["build", "--quiet", "--config", str(ROOT / "pathway_configs" / "riverside.yaml"),
                     str(SAMPLES / "riverside" / "placements.csv"), "--out", str(tmp_path / "out"),
                     "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"]) == 1
    said = capsys.readouterr().err
    assert f"the Dask scheduler at tcp://127.0.0.1:{port} could not be reached" in said
    assert "Traceback" not in said and "leave out --scheduler" in said
    assert not (tmp_path / "out").exists()


def test_a_partitioned_build_with_the_census_keeps_what_the_next_adds_to(client: object, tmp_path: Path) -> None:
    """With census returns too, the Dask engine keeps what the embedded build keeps: next year's care returns
    added to it give the build of every input."""
    from journeys.cache import fingerprint, input_digest, write_build
    from journeys.incremental import build_adding
    from journeys.stages import load_stage_model

    path = ROOT / "pathway_configs" / "northgate.yaml"
    model = load_stage_model()
    config = load_config(path, model)
    census = sorted((SAMPLES / "northgate").glob("cin_census_*.xml"))
    care = sorted((SAMPLES / "northgate").glob("ssda903_*.csv"), key=lambda p: (p.name.rsplit("_", 1)[-1], p.name))
    first, inputs = [*census, *care[:-2]], [*census, *care]
    options = {"fingerprint": fingerprint(path), "digest": input_digest()}
    partitioned = run_partitioned(first, config, client=client, key=KEY, partitions=5, **options)
    assert partitioned.kept is not None
    embedded = build_adding(first, config, model, KEY, base=None, **options)[0]
    for name in ("episodes", "header", "cin_episodes", "cin_children"):
        pd.testing.assert_frame_equal(partitioned.kept.rows[name], embedded.kept.rows[name])  # type: ignore[attr-defined]
    write_build(partitioned, tmp_path / "dask")
    added, why = build_adding(inputs, config, model, KEY, base=tmp_path / "dask", **options)
    assert why is None
    assert_same(run_pipeline(inputs, config, key=KEY), added)


def test_a_census_file_the_workers_cannot_read_is_reported_as_the_embedded_build_reports_it(
        client: object, tmp_path: Path) -> None:
    """The workers parse the census files on a local cluster: a broken one stops the build with the same
    message, naming the file, as the embedded build's."""
    from journeys.errors import JourneysError

    broken = tmp_path / "cin_census_2024-25.xml"
    text = (SAMPLES / "northgate" / "cin_census_2024-25.xml").read_text(encoding="utf-8")
    broken.write_text(text[: text.index("<Child>") + 40], encoding="utf-8")  # cut inside the first child
    config = load_config(ROOT / "pathway_configs" / "northgate.yaml")
    inputs = [*sorted((SAMPLES / "northgate").glob("ssda903_*2024-25.csv")), broken]
    with pytest.raises(JourneysError) as embedded:
        run_pipeline(inputs, config, key=KEY)
    with pytest.raises(JourneysError) as partitioned:
        run_partitioned(inputs, config, client=client, key=KEY, partitions=3)
    assert str(partitioned.value) == str(embedded.value) and "cin_census_2024-25.xml" in str(embedded.value)
