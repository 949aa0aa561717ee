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

from relu_course.grading.cells import Tampering, grade_id, locked_cell_changes, nbgrader_meta

__all__ = ["restore_metadata", "tamper_findings"]

_KEYS = ("grade", "solution", "locked", "points", "task", "grade_id")


def _meta(cell):
    """The raw nbgrader metadata (None when absent; a submission may have put anything
    there, which is why this is not ``cells.nbgrader_meta``)."""
    return cell.get("metadata", {}).get("nbgrader")


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
        if grade_id(cell):
            wanted[grade_id(cell)] = (cell.cell_type, nbgrader_meta(cell))
            if nbgrader_meta(cell).get("locked"):
                by_source.setdefault(cell.source.strip(), grade_id(cell))
    present = {grade_id(cell) for cell in nb.cells} & set(wanted)
    findings: list[Tampering] = []
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = _meta(cell)
        if meta is None:
            continue
        # what the submission wrote there, for the report; `key` only when it can name a cell
        # (a list or a number there must not crash the grader)
        written = meta.get("grade_id") if isinstance(meta, dict) else None
        key = grade_id(cell)
        if not isinstance(meta, dict):
            meta = {}
        renamed = by_source.get(str(cell.get("source", "")).strip())
        if key not in wanted and renamed and renamed not in present | seen:
            findings.append(Tampering(renamed, f"grade_id changed to {written!r}: restored"))
            key = renamed
        if key is None or key not in wanted or key in seen:
            marked = any(meta.get(k) for k in _KEYS)
            if marked:
                what = (
                    "second cell with this grade id un-marked (the first one is graded)"
                    if key in seen
                    else "grade cell not in the release: ignored (metadata removed)"
                )
                findings.append(Tampering(str(written or f"cell {index}"), what))
            del cell.metadata["nbgrader"]
            continue
        seen.add(key)
        cell_type, release_meta = wanted[key]
        changes = []
        if cell.cell_type != cell_type:
            changes.append(f"cell type {cell_type} → {cell.cell_type}")
            nb.cells[index] = cell = _retyped(cell, cell_type)
        for name in _KEYS[:-1]:  # (a changed grade_id is reported above)
            if meta.get(name) != release_meta.get(name):
                changes.append(f"{name} {release_meta.get(name)!r} → {meta.get(name)!r}")
        cell.metadata["nbgrader"] = copy.deepcopy(release_meta)
        if changes:
            findings.append(
                Tampering(key, "metadata restored from the release (" + ", ".join(changes) + ")")
            )
    return nb, findings


def tamper_findings(submitted, release) -> tuple[object, list[Tampering]]:
    """The restored notebook, and every finding: restored metadata plus the locked cells
    the submission deleted, stripped or edited (``cells.locked_cell_changes``)."""
    restored, findings = restore_metadata(submitted, release)
    return restored, findings + locked_cell_changes(restored, release)
