"""The web page: trame-slicer's MRML slice and 3D views, and a side panel whose controls call
:class:`~mrtoct.web.workspace.Workspace`. Page state is the panel's fields, the last message, the
residual table and the synthesis progress; a running synthesis is polled four times a second.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from trame.app import get_server
from trame.app.file_upload import ClientFile
from trame.ui.vuetify3 import SinglePageWithDrawerLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_slicer import module as trame_slicer_module
from trame_slicer.core import LayoutManager, SlicerApp
from trame_slicer.rca_view import register_rca_factories
from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

from MRtoCTTranslationLib.models.registry import default_model_name
from MRtoCTTranslationLib.options import TranslationOptions

from .workspace import Workspace

log = logging.getLogger(__name__)
POLL_S = 0.25
MODES = ["rigid", "similarity", "affine", "piecewise"]


def _rounded(row: dict) -> dict:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}


def spine_layout() -> Layout:
    """A large sagittal view (spine MR is sagittal), with the 3D, axial and coronal views beside it."""
    return Layout(LayoutDirection.Horizontal, [
        ViewLayoutDefinition.sagittal_view(),
        Layout(LayoutDirection.Vertical, [ViewLayoutDefinition.threed_view(), ViewLayoutDefinition.axial_view(),
                                          ViewLayoutDefinition.coronal_view()]),
    ])


class SpineWebApp:
    """One server: the Slicer scene and views, the workspace over them, and the page."""

    def __init__(self, data_dir: Path, server: Any = None, python: str | None = None) -> None:
        self.server = server or get_server(client_type="vue3")
        self.server.enable_module(trame_slicer_module)
        self.slicer_app = SlicerApp()
        register_rca_factories(self.slicer_app.view_manager, self.server)
        self.layouts = LayoutManager(self.slicer_app.scene, self.slicer_app.view_manager, self.server)
        self.layouts.register_layout_dict({"spine": spine_layout()})
        self.workspace = Workspace(self.slicer_app.scene, Path(data_dir), self.slicer_app.markups_logic, python)
        self._defaults()
        self._build()
        self.layouts.set_layout("spine")
        self.server.state.change("upload")(self._on_upload)
        self.server.state.change("opacity")(self._on_opacity)
        self.server.state.change("model")(self._on_model)

    @property
    def state(self) -> Any:
        return self.server.state

    def _defaults(self) -> None:
        s = self.state
        s.trame__title = "SpineMRtoCT"
        s.message, s.message_type = "Load the phantom sample, a case folder or files to begin.", "info"
        s.case_folder, s.upload, s.upload_role = "", None, "mr"
        s.manifest, s.subject = "", ""
        s.level_range, s.mode, s.registration = "L1-L5", "rigid", ""
        s.residuals = []
        s.models = self.workspace.models()
        s.model, s.target, s.running, s.progress, s.eta = default_model_name(), "CT", False, 0.0, ""
        s.metrics = []
        self._on_model(s.model)
        s.opacity = 0.5

    # -- actions ----------------------------------------------------------------------------------
    def _act(self, action, *args) -> None:
        """Run a workspace action; its return value or its ValueError becomes the page's message."""
        try:
            text, kind = action(*args), "success"
        except (ValueError, FileNotFoundError) as exc:
            text, kind = str(exc), "error"
        except Exception as exc:  # never let a click stop the server
            log.exception("action failed")
            text, kind = f"{type(exc).__name__}: {exc}", "error"
        self.state.message, self.state.message_type = text, kind
        self._refresh()

    def _refresh(self) -> None:
        s, work = self.state, self.workspace
        s.registration = work.registration_message() if work.live is not None else ""
        s.residuals = [_rounded(row) for row in work.residual_rows()]
        s.metrics = [_rounded(row) for row in work.metrics_rows()]

    def _show(self) -> str:
        mr = self.workspace.nodes.get("mr")
        if mr is not None:
            dm = self.slicer_app.display_manager
            dm.show_volume_in_slice_background(mr)
            dm.show_volume_in_slice_foreground(self.workspace.nodes.get("ct"))
            dm.reset_views()
            self._on_opacity(self.state.opacity)
        return ""

    def load_sample(self) -> None:
        self._act(lambda: self.workspace.load_sample() + self._show())

    def load_case(self) -> None:
        self._act(lambda: self.workspace.load_case(self.workspace.in_data(self.state.case_folder, "case folder"))
                  + self._show())

    def load_row(self) -> None:
        self._act(lambda: self.workspace.load_manifest_row(self.workspace.in_data(self.state.manifest, "manifest"),
                                                         str(self.state.subject or "").strip()) + self._show())

    def download(self) -> str | None:
        """The results as a zip for the browser to save (None, with a message, when there is nothing)."""
        try:
            data = self.workspace.results_zip()
        except ValueError as exc:
            self.state.message, self.state.message_type = str(exc), "error"
            return None
        self.state.message, self.state.message_type = f"download of {len(data) / 1e6:.1f} MB started", "success"
        return self.server.protocol.addAttachment(data)

    def _on_upload(self, upload, **_) -> None:
        if not upload:
            return
        files = upload if isinstance(upload, list) else [upload]
        for f in files:
            client = ClientFile(f)
            self._act(lambda c=client: self.workspace.load_upload(c.name, c.content, self.state.upload_role) + self._show())

    def _on_model(self, model, **_) -> None:
        """The chosen model's targets, default steps and card text (training data, intended use)."""
        try:
            info = self.workspace.model_info(model)
        except ValueError as exc:
            self.state.message, self.state.message_type = str(exc), "error"
            return
        self.state.targets, self.state.steps = info["targets"], info["steps"]
        self.state.target = self.state.target if self.state.target in info["targets"] else info["targets"][0]
        self.state.model_about = ("SYNTHETIC PHANTOM ONLY. " if info["synthetic"] else "") + info["about"]

    def _on_opacity(self, opacity, **_) -> None:
        scene, kind = self.slicer_app.scene, "vtkMRMLSliceCompositeNode"
        for i in range(scene.GetNumberOfNodesByClass(kind)):  # no collection to release
            scene.GetNthNodeByClass(i, kind).SetForegroundOpacity(float(opacity))

    def create_landmarks(self, role: str) -> None:
        self._act(self.workspace.create_landmarks, role, self.state.level_range)

    def place_next(self, role: str) -> None:
        self._act(self.workspace.place_next, role)

    def register(self) -> None:
        self._act(self.workspace.start_registration, self.state.mode)
        if self.workspace.live is not None:  # dragging a point updates the message and the table at once
            self.workspace.live.updated.append(self._on_live_update)

    def _on_live_update(self, _live) -> None:
        with self.state:
            self._refresh()

    def lock(self, role: str) -> None:
        self._act(self.workspace.lock, role)

    def apply(self) -> None:
        """Apply starts a synthesis and becomes Cancel while it runs."""
        if self.state.running:
            self._act(self.workspace.cancel)
            return
        try:
            steps = int(self.state.steps)
        except (TypeError, ValueError):
            self.state.message, self.state.message_type = f"steps {self.state.steps!r}: give a whole number", "error"
            return
        opts = TranslationOptions(model=self.state.model, target=self.state.target, steps=steps)
        self._act(self.workspace.synthesize, opts)
        if self.state.message_type == "success":
            self.state.running = True
            asyncio.ensure_future(self._watch())

    def save(self) -> None:
        self._act(self.workspace.save)

    async def _watch(self) -> None:
        while True:
            status = self.workspace.poll()
            with self.state:
                self.state.progress = round(100 * status["fraction"], 1)
                self.state.eta = f"{status['eta']:.0f} s left" if status["eta"] is not None else ""
                if status["state"] != "running":
                    self.state.running = False
                    if status["message"]:
                        failed = status["state"] == "failed"
                        self.state.message, self.state.message_type = status["message"], "error" if failed else "success"
                        self._refresh()
                    elif status["state"] == "cancelled":
                        self.state.message, self.state.message_type = "cancelled: nothing was added", "info"
            if status["state"] != "running":
                return
            await asyncio.sleep(POLL_S)

    # -- page -------------------------------------------------------------------------------------
    def _build(self) -> None:
        with SinglePageWithDrawerLayout(self.server, full_height=True) as layout:
            layout.title.set_text("SpineMRtoCT")
            with layout.drawer as drawer:
                drawer.width = 380
                self._panel()
            with layout.content:
                self.layouts.initialize_layout_grid(layout)
        self.ui = layout

    def _panel(self) -> None:
        with v3.VContainer(classes="pa-2"):
            v3.VAlert(text=("message",), type=("message_type",), density="compact", id="message")
            html.Div("Case", classes="text-subtitle-1 mt-2")
            v3.VBtn("Phantom sample", click=self.load_sample, block=True, id="load-sample")
            v3.VTextField(v_model=("case_folder",), label="case folder (in the data folder)", density="compact")
            v3.VBtn("Load case", click=self.load_case, block=True, id="load-case")
            v3.VTextField(v_model=("manifest",), label="manifest.csv (in the data folder)", density="compact")
            v3.VTextField(v_model=("subject",), label="subject", density="compact")
            v3.VBtn("Load manifest row", click=self.load_row, block=True, id="load-row")
            v3.VSelect(v_model=("upload_role",), items=("['mr', 'ct']",), label="upload as", density="compact")
            v3.VFileInput(v_model=("upload",), label="NIfTI / NRRD / MHA", density="compact", id="upload")
            html.Div("Landmarks", classes="text-subtitle-1 mt-2")
            v3.VTextField(v_model=("level_range",), label="levels", density="compact", id="levels")
            with v3.VRow(dense=True):
                for role in ("mr", "ct"):
                    with v3.VCol():
                        v3.VBtn(f"{role.upper()} list", click=(self.create_landmarks, f"['{role}']"), block=True,
                                id=f"create-{role}")
                        v3.VBtn(f"Place next {role.upper()}", click=(self.place_next, f"['{role}']"), block=True,
                                id=f"place-{role}")
                        v3.VBtn(f"Lock {role.upper()}", click=(self.lock, f"['{role}']"), block=True)
            v3.VSelect(v_model=("mode",), items=(str(MODES),), label="registration", density="compact")
            v3.VBtn("Register (live)", click=self.register, block=True, id="register")
            html.Div("{{ registration }}", id="registration", classes="text-body-2")
            v3.VDataTable(items=("residuals",), density="compact", items_per_page=10, id="residuals")
            html.Div("Synthetic CT", classes="text-subtitle-1 mt-2")
            v3.VSelect(v_model=("model",), items=("models",), label="model", density="compact", id="model")
            html.Div("{{ model_about }}", classes="text-caption", id="model-about")
            v3.VSelect(v_model=("target",), items=("targets",), label="target", density="compact")
            v3.VTextField(v_model=("steps",), label="steps", type="number", density="compact", id="steps")
            v3.VBtn("{{ running ? 'Cancel' : 'Apply' }}", click=self.apply, block=True, id="apply",
                    color=("running ? 'error' : 'primary'",))
            v3.VProgressLinear(model_value=("progress",), height=8, classes="my-1", id="progress")
            html.Div("{{ eta }}", classes="text-caption")
            v3.VSlider(v_model=("opacity",), min=0, max=1, step=0.05, label="overlay", density="compact")
            v3.VDataTable(items=("metrics",), density="compact", id="metrics", v_if=("metrics.length",))
            v3.VBtn("Save to the data folder", click=self.save, block=True, id="save")
            download = self.server.trigger_name(self.download)
            v3.VBtn("Download results (zip)", block=True, id="download",
                    click=f"utils.download('spine_results.zip', trigger('{download}'), 'application/zip')")


def serve(data_dir: Path, host: str = "127.0.0.1", port: int = 8080, python: str | None = None) -> None:
    """Build the app and serve it until the process is stopped."""
    app = SpineWebApp(data_dir, python=python)
    app.server.start(host=host, port=port, open_browser=False, show_connection_info=True)
