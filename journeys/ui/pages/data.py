"""Data page: load extract files, choose the authority's config, see the validation summary, build."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from journeys.cache import build_inputs
from journeys.errors import JourneysError
from journeys.intake import EXTENSIONS, MAX_FILE_BYTES, folder_extracts, new_config, save_upload
from journeys.ui.components import aria, how_to_read, labelled, table_view
from journeys.ui.shell import header
from journeys.ui.state import AppState
from journeys.views import report_tables

MAX_UPLOAD_BYTES = 4 * MAX_FILE_BYTES
CONFIGS = Path(__file__).resolve().parents[3] / "pathway_configs"


def config_options() -> list[dict[str, str]]:
    """Every authority config shipped or saved in pathway_configs/ (the stage model is not one)."""
    return [{"label": p.stem, "value": str(p)} for p in sorted(CONFIGS.glob("*.yaml")) if p.stem != "stage_model"]


def summary(state: AppState) -> list[Any]:
    """Each loaded authority's validation summary: rows used, superseded, ignored, quarantined, by reason."""
    if not state.builds:
        return [html.P("No authority is loaded yet. Choose a config and extract files below, then build.")]
    out: list[Any] = []
    for name, build in sorted(state.builds.items()):
        tables = report_tables(build.report)
        out += [html.H3(f"{name}: data to {build.report.get('extract_date')}"),
                table_view(tables["summary"], "Every input row, and what happened to it", index_header="Bucket")]
        if not tables["by_reason"].empty:
            out.append(table_view(tables["by_reason"].set_index("Bucket"), "Rows ignored or quarantined, by rule or reason",
                                  index_header="Bucket"))
        details: list[Any] = [table_view(tables["inputs"].set_index("File"), "The same counts per input file and table",
                                         index_header="File")]
        if not tables["issues"].empty:
            details.append(table_view(tables["issues"].set_index("Severity"), "Problems found (docs/issue-codes.md says how to fix each)",
                                      index_header="Severity"))
        out.append(html.Details([html.Summary("Per file, and the problems found"), *details]))
    return out


def upload_field() -> html.Label:
    """The file drop zone inside a label, so Dash's hidden file input is named and the one place to press or click.

    The label opens the file chooser (the drop zone's own click is off, or a click would open it twice); the
    file input takes keyboard focus and the zone shows it (assets/app.css, .upload:focus-within).
    """
    return html.Label([
        html.Span(f"Extract files ({', '.join(EXTENSIONS)}; up to {MAX_FILE_BYTES // 2**20} MB each)",
                  className="upload-label"),
        dcc.Upload(id="data-upload", multiple=True, max_size=MAX_FILE_BYTES, className="upload", disable_click=True,
                   children=html.Span(["Drag files here, or ", html.Span("choose files", className="upload-choose")])),
    ], className="upload-field")


def layout(state: AppState) -> html.Div:
    folder_note = ("Or type the folder on this computer that holds them:" if state.allow_folders
                   else "Reading folders is switched off when the app is served to other computers.")
    return html.Div([
        html.H1("Data"),
        how_to_read(
            "Every row of every file you load ends in one bucket: used; superseded by the same episode in a later "
            "return; ignored by a rule in the authority's config (for example short breaks); or quarantined because "
            "of a problem, with the reason. The buckets add up to the rows read.",
            "To add an authority: choose its config, add its extract files (upload them, or name a folder on this "
            "computer), then build. Several authorities can be loaded side by side; each keeps its own config.",
        ),
        html.Section([html.H2("Loaded authorities"), html.Div(summary(state), id="data-summary")]),
        html.Section([
            html.H2("Load extract files"),
            labelled("data-config", "The authority's pathway config",
                     dcc.Dropdown(id="data-config", options=config_options(), placeholder="Choose a config",
                                  clearable=False)),
            html.Details([
                html.Summary("No config for your authority yet? Start one from the national SSDA903 codes"),
                html.Label("Authority name (lower case, e.g. eastvale)", htmlFor="data-new-authority"),
                dcc.Input(id="data-new-authority", type="text", className="text-input"),
                html.Button("Create the config", id="data-new-config", n_clicks=0, className="button secondary"),
                html.Div(id="data-new-config-status", className="status", **aria(live="polite")),
            ]),
            upload_field(),
            html.Label(folder_note, htmlFor="data-folder"),
            dcc.Input(id="data-folder", type="text", disabled=not state.allow_folders, placeholder="e.g. C:\\returns\\2024",
                      debounce=True, className="text-input"),
            html.Div(id="data-files", className="status", **aria(live="polite")),
            html.Button("Build", id="data-build", n_clicks=0, className="button"),
            dcc.Interval(id="data-poll", interval=1000, disabled=True),
            html.Div(id="data-progress", className="status", **aria(live="polite")),
            dcc.Store(id="data-inputs"),
        ]),
    ])


def register(app: Dash, state: AppState) -> None:
    dash.register_page("journeys.ui.pages.data", path="/data", name="Data", title="Data - Care Journeys",
                       layout=lambda **_: layout(state), order=3)
    uploads: list[Path] = []  # made at the first upload, removed when the app stops

    def upload_folder() -> Path:
        if not uploads:
            uploads.append(Path(tempfile.mkdtemp(prefix="care-journeys-uploads-")))
            atexit.register(shutil.rmtree, uploads[0], ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=uploads[0]))

    @app.callback(Output("data-config", "options"), Output("data-config", "value"),
                  Output("data-new-config-status", "children"), Input("data-new-config", "n_clicks"),
                  State("data-new-authority", "value"), prevent_initial_call=True)
    def create(_: int, authority: str | None) -> tuple[Any, Any, str]:
        try:
            made = new_config(authority or "", CONFIGS, CONFIGS / "ssda903.yaml")
        except JourneysError as exc:
            return dash.no_update, dash.no_update, str(exc)
        return config_options(), str(made), (f"Created {made}. It maps the national SSDA903 codes; edit its rules for "
                                             "your local codes, then build.")

    @app.callback(Output("data-inputs", "data"), Output("data-files", "children"),
                  Input("data-upload", "contents"), Input("data-folder", "value"), State("data-upload", "filename"),
                  prevent_initial_call=True)
    def collect(contents: list[str] | None, folder: str | None, names: list[str] | None) -> tuple[Any, str]:
        # the browser only ever holds a token: the file list stays on the server (no path comes back in)
        try:
            if dash.ctx.triggered_id == "data-folder":
                if not state.allow_folders:
                    return None, "Reading folders is switched off."
                token = state.hold_inputs(folder_extracts(folder or ""), None)
            else:
                target = upload_folder()
                token = state.hold_inputs([save_upload(n, c, target) for n, c in zip(names or [], contents or [])],
                                          target)
        except JourneysError as exc:
            return None, str(exc)
        return token, "Ready to build:\n" + "\n".join(f.name for f in state.held_inputs(token))

    @app.callback(Output("data-poll", "disabled"), Output("data-progress", "children", allow_duplicate=True),
                  Input("data-build", "n_clicks"), State("data-config", "value"), State("data-inputs", "data"),
                  prevent_initial_call=True)
    def start(_: int, config: str | None, token: str | None) -> tuple[bool, str]:
        known = {o["value"] for o in config_options()}
        files = state.held_inputs(token) if token else []
        if config not in known or not files:
            return True, "Choose a config from the list and add extract files first."
        name = Path(config).stem
        if not state.start_job(name, lambda progress: build_inputs(Path(config), files, state.cache_root,
                                                                   progress=progress), release=token):
            return False, f"{name} is already being built; its progress follows."
        return False, f"Building {name}..."

    @app.callback(Output("data-progress", "children"), Output("data-poll", "disabled", allow_duplicate=True),
                  Output("data-summary", "children"), Output("shell-authorities", "children"),
                  Input("data-poll", "n_intervals"), State("data-config", "value"), prevent_initial_call=True)
    def poll(_: int, config: str | None) -> tuple[str, bool, Any, Any]:
        job = state.jobs.get(Path(config).stem) if config else None
        if job is None:
            return "", True, dash.no_update, dash.no_update
        text = "\n".join(job.messages[-12:])
        if not job.done:
            return text, False, dash.no_update, dash.no_update
        if job.error:
            return f"The build stopped:\n{job.error}", True, dash.no_update, dash.no_update
        return text, True, summary(state), header(state).children[1].children
