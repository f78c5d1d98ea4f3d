"""What each control of the web app does, on one MRML scene, with no web code: the page calls these and
shows what they return or the one-line message of what they raise (``ValueError``).

Everything runs through the MRML layer the Slicer modules use (``SpineCoreLib.mrml``,
``SpineLandmarkRegistrationLib.mrml``, ``MRtoCTTranslationLib.mrml``): case loading,
named unplaced point lists, "place next", lock, live registration with its residual table, and the
synthesis job in a child process. Inputs are checked before anything is added to the scene; files the
user loads are only read.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk
import slicer

from MRtoCTTranslationLib.mrml.translation_job import TranslationJob, TranslationNodes
from MRtoCTTranslationLib.options import SegmentationOptions, TranslationOptions
from SpineCoreLib.atomic_io import atomic_output, write_images
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.markups_io import write_markups_json
from SpineCoreLib.mrml.case_nodes import load_case_nodes, load_nodes
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node
from SpineCoreLib.mrml.volumes import add_volume_node_from_image, grid_from_volume_node
from SpineCoreLib.validation import image_file
from SpineLandmarkRegistrationLib.mrml import landmark_placement, live_registration, residual_table

log = logging.getLogger(__name__)
ROLES = {"mr": "mr", "ct": "image"}  # what an uploaded image must be, by the role it is loaded as
UPLOAD_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
SAMPLE = "sample"
STOP_WHEN_PLACED = "SpineMRtoCT.web.stopWhenPlaced"
CASE_KEYS = ("mr_t2w", "mr_t1w", "ct", "ct_mrworld", "ct_mrworld_seg", "mr_landmarks", "ct_landmarks")


def show_outlines_and_surface(segmentation: Any) -> None:
    """Vertebrae as outlines over the slices (the synthetic CT stays readable) and as surfaces in 3D."""
    if segmentation is None:
        return
    segmentation.CreateClosedSurfaceRepresentation()
    display = segmentation.GetDisplayNode()
    if display is not None:
        display.SetVisibility2DFill(False)
        display.SetVisibility2DOutline(True)
        display.SetVisibility3D(True)


@dataclass
class Workspace:
    """The loaded case, the two point lists, the live registration and the synthesis job of one server."""

    scene: Any
    data_dir: Path
    markups_logic: Any = None  # vtkSlicerMarkupsLogic, for "place next" (the views' click places the point)
    python: str | None = None  # the synthesis child's interpreter (None: this one)
    nodes: dict[str, Any] = field(default_factory=dict)  # mr, ct, mr_landmarks, ct_landmarks, reference_labels
    live: Any = None
    job: TranslationJob | None = None
    result: TranslationNodes | None = None

    # -- loading -------------------------------------------------------------------------------
    def in_data(self, name: str | None, what: str) -> Path:
        """``name`` (relative to the data folder, or absolute) when it lies inside the data folder: the
        page reads nothing else on the server."""
        if not str(name or "").strip():
            raise ValueError(f"{what}: give a path inside the data folder {self.data_dir}")
        root = self.data_dir.resolve()
        path = (root / str(name).strip()).resolve()
        if path != root and root not in path.parents:
            raise ValueError(f"{what}: {name} is outside the data folder {self.data_dir}: copy it there first")
        return path

    def load_case(self, folder: str | Path) -> str:
        """A case folder (phantom or manifest layout) into the scene: its T2w MR (else T1w), the CT in the
        MR's world as the reference, the CT, their labels and landmarks."""
        return self._adopt(load_case_nodes(self.scene, folder), Path(folder).name)

    def load_manifest_row(self, manifest: str | Path, subject: str) -> str:
        """One subject's row of a manifest (``mrtoct import``, ``mrtoct phantom``): its files by column."""
        rows = [r for r in read_manifest(manifest) if r.get("subject") == subject]
        if not rows:
            raise ValueError(f"{Path(manifest).name} has no row for subject {subject!r}: give one of its subjects")
        files = {key: rows[0][key] for key in CASE_KEYS if rows[0].get(key)}
        if not files:
            raise ValueError(f"subject {subject!r} of {Path(manifest).name} names no MR, CT or landmarks file")
        return self._adopt(load_nodes(self.scene, files, subject), subject)

    def _adopt(self, loaded: dict, name: str) -> str:
        """Take freshly loaded nodes as the workspace's case; without an MR they are removed again."""
        mr = loaded.get("mr_t2w") or loaded.get("mr_t1w")
        if mr is None:
            for node in loaded.values():
                self.scene.RemoveNode(node)
            raise ValueError(f"{name} holds no MR (mr_t2w or mr_t1w): choose a case with one")
        self.nodes = {"mr": mr, "ct": loaded.get("ct"), "reference": loaded.get("ct_mrworld"),
                      "reference_labels": loaded.get("ct_mrworld_seg"),
                      "mr_landmarks": loaded.get("mr_landmarks"), "ct_landmarks": loaded.get("ct_landmarks")}
        return f"loaded {name}: " + ", ".join(k for k, v in self.nodes.items() if v is not None)

    def load_sample(self, seed: int = 0) -> str:
        """The phantom sample (five lumbar levels), written into the data folder the first time."""
        folder = self.data_dir / SAMPLE / f"seed{seed}"
        case = next(folder.glob("*/truth.json"), None) if folder.is_dir() else None
        if case is None:
            from SpineCoreLib.phantom import PhantomOptions, generate_case

            case = generate_case(folder, "phantom", seed, PhantomOptions())["truth"]
        return self.load_case(Path(case).parent)

    def load_upload(self, filename: str, content: bytes, role: str) -> str:
        """An uploaded NIfTI/NRRD/MHA file as the MR or the CT; the message names what is wrong with it."""
        if role not in ROLES:
            raise ValueError(f"role {role!r}: load an upload as {' or '.join(ROLES)}")
        name = Path(filename).name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise ValueError(f"{name}: not an image file; upload NIfTI (.nii, .nii.gz), NRRD or MHA")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(content)
            image = image_file(path, name, ROLES[role])
        stem = name.split(".")[0]
        self.nodes[role] = add_volume_node_from_image(self.scene, image, self.scene.GenerateUniqueName(stem))
        return f"loaded {name} as the {role.upper()}"

    # -- landmarks and registration -------------------------------------------------------------
    def create_landmarks(self, role: str, level_range: str) -> str:
        """A named, unplaced point list ("L3-body", "L3-spinous", ...) for the MR or the CT."""
        if role not in ROLES:
            raise ValueError(f"role {role!r}: landmarks belong to the mr or the ct")
        node = landmark_placement.create_landmark_node(self.scene, level_range, self.scene.GenerateUniqueName(f"{role.upper()}-landmarks"))
        self.nodes[f"{role}_landmarks"] = node
        return f"{node.GetName()}: {node.GetNumberOfControlPoints()} points to place"

    def place_next(self, role: str) -> str:
        """Place mode for the first unplaced point of a list: the next click in a view places it."""
        node = self._required(f"{role}_landmarks", f"create the {role.upper()} landmarks first")
        if self.markups_logic is None:
            raise ValueError("placing by clicking needs the views")
        index = landmark_placement.start_placing_next(self.markups_logic, node)
        if index is not None and not node.GetAttribute(STOP_WHEN_PLACED):
            node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._stop_when_placed)
            node.SetAttribute(STOP_WHEN_PLACED, "1")
        return "every point is placed" if index is None else f"click to place {node.GetNthControlPointLabel(index)}"

    def _stop_when_placed(self, node: Any, _event: str) -> None:
        """Leave place mode once a list's last named point is placed: a further click (or a drag to correct
        a point) must not add an unnamed point."""
        if landmark_placement.first_unplaced_index(node) is None:
            interaction = self.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
            if interaction is not None:
                interaction.SetCurrentInteractionMode(slicer.vtkMRMLInteractionNode.ViewTransform)

    def lock(self, role: str) -> str:
        """Lock every placed point of a list (reviewed: dragging no longer moves it)."""
        node = self._required(f"{role}_landmarks", f"create the {role.upper()} landmarks first")
        defined = slicer.vtkMRMLMarkupsNode.PositionDefined
        placed = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())
                  if node.GetNthControlPointPositionStatus(i) == defined]
        landmark_placement.lock_points(node, placed)
        return f"locked {len(placed)} points"

    def start_registration(self, mode: str = "rigid") -> str:
        """Follow every point change with a registration of the CT list onto the MR list."""
        fixed = self._required("mr_landmarks", "create or load the MR landmarks first")
        moving = self._required("ct_landmarks", "create or load the CT landmarks first")
        if self.live is not None:
            self.live.stop()
        self.live = live_registration.LiveRegistration(fixed, moving, mode)
        if self.nodes.get("ct") is not None:
            self.live.set_preview_volume(self.nodes["ct"])
        return self.registration_message()

    def registration_message(self) -> str:
        live = self.live
        if live is None:
            return "no registration yet"
        if live.registration is None:
            return f"not registered: {live.error}"
        report = live.registration.report
        return "; ".join([f"RMS {report.rms_mm:.2f} mm over {len(report.matched)} pairs", *report.warnings])

    def residual_rows(self) -> list[dict]:
        """The residual table's rows (level, kind, residual, ...), for the page."""
        return residual_table.read_residual_table(self.live.table_node) if self.live is not None and self.live.table_node else []

    # -- synthesis ------------------------------------------------------------------------------
    @staticmethod
    def models() -> list[str]:
        """The models this server can run without a download (bundled and the user's folder)."""
        from MRtoCTTranslationLib.models.registry import available_names

        return available_names()

    @staticmethod
    def model_info(name: str) -> dict:
        """What a model's card says a user must know before choosing it: its targets, default steps, what
        it was trained on and what it is for."""
        from MRtoCTTranslationLib.models.registry import local_card

        card = local_card(name)
        if card is None:
            raise ValueError(f"model {name!r} is not on this server: choose one of {', '.join(Workspace.models())}")
        return {"targets": card.target_names, "steps": card.default_steps or 1,
                "about": card.provenance(), "synthetic": card.synthetic_only}

    def synthesize(self, options: TranslationOptions, segmentation: SegmentationOptions | None = None) -> str:
        """Start the synthetic CT of the MR in a child process; refused while one runs."""
        if self.job is not None and self.job.state == "running":
            raise ValueError("a synthesis is running: wait for it or cancel it")
        mr = self._required("mr", "load an MR first")
        self.result = None
        self.job = TranslationJob(self.scene, mr, options, segmentation, landmarks=self.nodes.get("mr_landmarks"),
                                  reference=self.nodes.get("reference"),
                                  reference_labels=self.nodes.get("reference_labels"), python=self.python)
        self.job.start()
        return "synthesis started"

    def poll(self) -> dict:
        """The job's state, its fraction done and seconds left; a finished job's nodes are added once."""
        job = self.job
        if job is None:
            return {"state": "idle", "fraction": 0.0, "eta": None, "message": ""}
        job.poll()
        message = ""
        if job.state == "finished" and self.result is None:
            self.result = job.commit()
            show_outlines_and_surface(self.result.segmentation)
            message = f"synthetic {self.result.result.target} ready"
        elif job.state == "failed":
            message = f"synthesis failed: {job.error}"
        return {"state": job.state, "fraction": job.fraction, "eta": job.eta_seconds(), "message": message}

    def metrics_rows(self) -> list[dict]:
        """The metrics table of the last synthesis (against the loaded reference), for the page."""
        from MRtoCTTranslationLib.mrml.result_nodes import read_table

        table = self.result.metrics_table if self.result is not None else None
        return read_table(table) if table is not None else []

    def cancel(self) -> str:
        if self.job is None or self.job.state != "running":
            return "nothing is running"
        self.job.cancel()
        return "cancelled: nothing was added"

    # -- saving ----------------------------------------------------------------------------------
    def save(self, name: str = "results", folder: Path | None = None) -> str:
        """The synthetic CT, its vertebra labels, both point lists and the registration (CT onto MR, LPS,
        ITK's convention) into ``<data folder>/<name>/`` (or ``folder``); each file written whole or not
        at all."""
        out = folder or self.data_dir / Path(name).name
        items: dict[str, Any] = {}
        if self.result is not None:
            items["synthetic_ct.nii.gz"] = self.result.result.image
            if self.result.result.labels is not None:
                items["synthetic_ct_vertebrae.nii.gz"] = self.result.result.labels
        marks = {f"{r}_landmarks.mrk.json": self.nodes.get(f"{r}_landmarks") for r in ROLES}
        reg = self.live.registration if self.live is not None else None
        if not items and not any(marks.values()) and reg is None:
            raise ValueError("nothing to save yet: place landmarks, register or synthesise first")
        out.mkdir(parents=True, exist_ok=True)
        written = write_images({out / k: v for k, v in items.items()})
        for filename, node in marks.items():
            if node is not None:
                written.append(write_markups_json(out / filename, landmark_set_from_markups_node(node)))
        if reg is not None:
            transform = reg.transform.to_sitk(grid_from_volume_node(self.nodes["mr"]) if self.nodes.get("mr") else None)
            with atomic_output(out / "ct_to_mr.h5") as tmp:
                sitk.WriteTransform(transform, str(tmp))
            written.append(out / "ct_to_mr.h5")
        return f"saved {len(written)} files to {out}"

    def results_zip(self) -> bytes:
        """What :meth:`save` writes, as one zip archive (the page's download)."""
        import io
        import zipfile

        with tempfile.TemporaryDirectory() as tmp:
            self.save(folder=Path(tmp))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(Path(tmp).iterdir()):
                    archive.write(path, path.name)
        return buffer.getvalue()

    def _required(self, key: str, what_to_do: str) -> Any:
        node = self.nodes.get(key)
        if node is None:
            raise ValueError(what_to_do)
        return node
