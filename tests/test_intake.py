"""Uploads and folders from the Data page: names cleaned, types checked, nothing else reaches the disk."""

from __future__ import annotations

import base64

import pytest

from journeys.errors import InputError
from journeys.intake import folder_extracts, safe_filename, save_upload


def data_url(content: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(content).decode()


def test_upload_lands_in_the_folder_under_a_clean_name(tmp_path) -> None:
    saved = save_upload("../../evil/../ssda903 2024.csv", data_url(b"CHILD,DECOM\n1,01/01/2020\n"), tmp_path)
    assert saved == tmp_path / "ssda903 2024.csv" and saved.read_bytes().startswith(b"CHILD")
    assert safe_filename("..hidden.csv") == "hidden.csv"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("run.exe", b"MZ", "not an extract file"),
    ("book.xlsx", b"CHILD,DECOM", "contents are not a .xlsx file"),
    ("census.xml", b"CHILD,DECOM", "does not start with XML"),
    ("data.parquet", b"nope", "contents are not a .parquet file"),
])
def test_uploads_that_are_not_extracts_are_refused(tmp_path, name, content, message) -> None:
    with pytest.raises(InputError, match=message):
        save_upload(name, data_url(content), tmp_path)
    assert not list(tmp_path.iterdir())


def test_broken_upload_says_upload_again(tmp_path) -> None:
    with pytest.raises(InputError, match="did not arrive whole"):
        save_upload("a.csv", "data:text/csv;base64,@@@", tmp_path)


def test_folder_lists_only_extract_files(tmp_path) -> None:
    (tmp_path / "b.csv").write_text("x")
    (tmp_path / "a.xml").write_text("<x/>")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("x")
    assert [p.name for p in folder_extracts(str(tmp_path))] == ["a.xml", "b.csv"]
    with pytest.raises(InputError, match="is not a folder"):
        folder_extracts(str(tmp_path / "missing"))
    with pytest.raises(InputError, match="holds no extract files"):
        (tmp_path / "empty").mkdir()
        folder_extracts(str(tmp_path / "empty"))


def test_new_config_starts_from_the_template_and_loads(tmp_path) -> None:
    from journeys.config import load_config
    from journeys.intake import new_config
    from tests.conftest import ROOT
    made = new_config("Eastvale", tmp_path, ROOT / "pathway_configs" / "ssda903.yaml")
    assert made.name == "eastvale.yaml"
    config = load_config(made)
    assert config.authority == "eastvale" and len(config.rules) == len(load_config(ROOT / "pathway_configs" / "ssda903.yaml").rules)
    with pytest.raises(InputError, match="already a config for eastvale"):
        new_config("eastvale", tmp_path, ROOT / "pathway_configs" / "ssda903.yaml")
    with pytest.raises(InputError, match="cannot name a config"):
        new_config("../etc", tmp_path, ROOT / "pathway_configs" / "ssda903.yaml")
