"""Put a submission's nbgrader metadata back to the release's before nbgrader sees it.

A student can edit any cell's metadata: turn a test cell's ``grade`` off, change its
``grade_id``, type or points, or mark an extra cell as a grade cell. nbgrader then fails
("Inconsistent checksums", ``KeyError: 'grade_id'``) or scores the wrong cells. Here every
cell whose grade id is in the release gets the release's metadata and cell type back; any
other cell loses its nbgrader metadata (an ordinary cell, graded by nobody); a second cell
with an id already seen is un-marked too. Every change is a :class:`Tampering` finding.
Deleted or stripped test cells are left for nbgrader to put back
(``OverwriteCells.add_missing_cells``) and scored 0 by the grader.
"""

from __future__ import annotations

import copy

import nbformat

from relu_course.grading.cells import Tampering, locked_cell_changes

__all__ = ["restore_metadata", "tamper_findings"]

_KEYS = ("grade", "solution", "locked", "points", "task", "grade_id")


def _meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta


def _retyped(cell, cell_type: str):
    """``cell`` as a ``cell_type`` cell with the same id, source and metadata."""
    maker = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }[cell_type]
    new = maker(source=cell.get("source", ""), metadata=copy.deepcopy(cell.get("metadata", {})))
    if "id" in cell:
        new["id"] = cell["id"]
    return new


def restore_metadata(submitted, release) -> tuple[object, list[Tampering]]:
    """A copy of ``submitted`` whose graded cells carry the release's metadata, and what
    had to change."""
    nb = copy.deepcopy(submitted)
    wanted, by_source = {}, {}
    for cell in release.cells:
        meta = _meta(cell)
        if isinstance(meta, dict) and meta.get("grade_id"):
            wanted[meta["grade_id"]] = (cell.cell_type, meta)
            if meta.get("locked"):
                by_source.setdefault(cell.source.strip(), meta["grade_id"])
    present = {m.get("grade_id") for m in map(_meta, nb.cells) if isinstance(m, dict)} & set(wanted)
    findings: list[Tampering] = []
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = _meta(cell)
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(meta, dict):
            meta = {}
        renamed = by_source.get(str(cell.get("source", "")).strip())
        if grade_id not in wanted and renamed and renamed not in present | seen:
            findings.append(Tampering(renamed, f"grade_id changed to {grade_id!r}: restored"))
            grade_id = renamed
        if not isinstance(grade_id, str) or grade_id not in wanted or grade_id in seen:
            marked = isinstance(meta, dict) and any(meta.get(k) for k in _KEYS)
            if marked:
                what = (
                    "second cell with this grade id un-marked (the first one is graded)"
                    if grade_id in seen
                    else "grade cell not in the release: ignored (metadata removed)"
                )
                findings.append(Tampering(str(grade_id or f"cell {index}"), what))
            del cell.metadata["nbgrader"]
            continue
        seen.add(grade_id)
        cell_type, release_meta = wanted[grade_id]
        changes = []
        if cell.cell_type != cell_type:
            changes.append(f"cell type {cell_type} → {cell.cell_type}")
            nb.cells[index] = cell = _retyped(cell, cell_type)
        for key in _KEYS[:-1]:  # (a changed grade_id is reported above)
            if meta.get(key) != release_meta.get(key):
                changes.append(f"{key} {release_meta.get(key)!r} → {meta.get(key)!r}")
        cell.metadata["nbgrader"] = copy.deepcopy(release_meta)
        if changes:
            findings.append(
                Tampering(
                    grade_id, "metadata restored from the release (" + ", ".join(changes) + ")"
                )
            )
    return nb, findings


def tamper_findings(submitted, release) -> tuple[object, list[Tampering]]:
    """The restored notebook, and every finding: restored metadata plus the locked cells
    the submission deleted, stripped or edited (``cells.locked_cell_changes``)."""
    restored, findings = restore_metadata(submitted, release)
    return restored, findings + locked_cell_changes(restored, release)
