"""One definition per thing (issue 10): what the code must not spell out twice, and names in
the docs that must point at something that exists."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import re
import sys
from pathlib import Path

import pytest

from relu_course.runtime import KERNEL_ENV, QUIET_TF_ENV

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "relu_course"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


# ------------------------------------------------------------------ nbgrader cell predicates
# relu_course.grading.cells reads nbgrader metadata (nbgrader_meta, grade_id, is_answer,
# is_autograded_test, grade_cells); sanitize.py reads the raw value on purpose (a submission
# may have put anything there) and writes the release's back.
READS_NBGRADER_METADATA = {"relu_course/grading/cells.py", "relu_course/grading/sanitize.py"}
# Not yet routed through cells.py (owned elsewhere; the change is a one-line import each).
# Remove an entry once its module uses cells.py: the test fails while a listed module no
# longer reads the metadata itself, so this list cannot go stale.
PENDING_NBGRADER_READS: set[str] = set()


def _reads_nbgrader_metadata(tree: ast.AST) -> bool:
    """``x["nbgrader"]`` or ``x.get("nbgrader", ...)`` anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if node.slice.value == "nbgrader":
                return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "nbgrader"
        ):
            return True
    return False


def test_nbgrader_metadata_is_read_through_cells_only():
    """Answer, test and grade-id mean one thing: the package (and the notebook tests) ask
    relu_course.grading.cells instead of reading ``metadata["nbgrader"]`` themselves."""
    readers = {
        _rel(path)
        for path in [*_modules("relu_course"), ROOT / "tests" / "test_notebooks.py"]
        if _reads_nbgrader_metadata(ast.parse(path.read_text(encoding="utf-8")))
    }
    unexpected = sorted(readers - READS_NBGRADER_METADATA - PENDING_NBGRADER_READS)
    assert not unexpected, (
        f"{unexpected} read nbgrader metadata: use relu_course.grading.cells "
        "(nbgrader_meta, grade_id, is_answer, is_autograded_test, grade_cells)"
    )
    stale = sorted(PENDING_NBGRADER_READS - readers)
    assert not stale, f"{stale} no longer read nbgrader metadata: drop them from PENDING"


def test_notebook_tests_define_no_cell_predicates_of_their_own():
    tree = ast.parse((ROOT / "tests" / "test_notebooks.py").read_text(encoding="utf-8"))
    own = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and re.fullmatch(r"_?(is_\w+|meta|nbgrader\w*|grade_id)", node.name)
    ]
    assert not own, f"tests/test_notebooks.py defines {own}: import them from grading.cells"


def test_the_reader_of_nbgrader_metadata_sees_through_planted_values():
    """A rule applied through one definition: the predicates work on the shapes a tampered
    submission can give (metadata missing, not a mapping, a grade id that is not a string)."""
    import nbformat

    from relu_course.grading.cells import grade_id, is_answer, is_autograded_test, nbgrader_meta

    cell = nbformat.v4.new_code_cell("pass")
    assert nbgrader_meta(cell) == {} and grade_id(cell) is None
    for planted in ("grade", ["x"], 3):
        cell.metadata["nbgrader"] = planted
        assert nbgrader_meta(cell) == {} and not is_answer(cell) and not is_autograded_test(cell)
    for planted in (["test_x"], 5, "", None):
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": planted, "points": 1}
        assert grade_id(cell) is None and is_autograded_test(cell)
    cell.metadata["nbgrader"]["grade_id"] = "test_x"
    assert grade_id(cell) == "test_x"


@pytest.mark.parametrize("planted", [["test_add_one"], {"a": 1}, 7, ""])
def test_a_planted_grade_id_is_restored_not_a_crash(planted):
    """sanitize looks ids up through cells.grade_id: an unhashable id (a list) used to raise
    TypeError and turn the submission into a grading error instead of a restored notebook."""
    import copy

    import nbformat

    from relu_course.grading.cells import grade_id
    from relu_course.grading.sanitize import restore_metadata

    release = nbformat.read(ROOT / "notebooks" / "00_welcome" / "00_welcome.ipynb", 4)
    submitted = copy.deepcopy(release)
    test = next(c for c in submitted.cells if grade_id(c) == "test_add_one")
    test.metadata["nbgrader"]["grade_id"] = planted
    restored, findings = restore_metadata(submitted, release)
    assert [grade_id(c) for c in restored.cells] == [grade_id(c) for c in release.cells]
    assert [(t.grade_id, "grade_id changed" in t.change) for t in findings] == [
        ("test_add_one", True)
    ]


# ------------------------------------------------------------------ quiet-TensorFlow environment
# The bootstrap course.py keeps a copy (it runs before the package is installed); it is
# outside relu_course/ and tests/test_package.py keeps it equal to runtime.KERNEL_ENV.
ENV_HOME = "relu_course/runtime.py"
# Scripts not yet importing relu_course.runtime (owned elsewhere). Same rule as above.
PENDING_ENV_SPELLINGS: set[str] = set()


def _spells(tree: ast.AST, names) -> set[str]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    }


def test_quiet_tensorflow_environment_is_spelled_only_in_runtime():
    spelled = {}
    for path in _modules("relu_course", "benchmarks"):
        found = _spells(ast.parse(path.read_text(encoding="utf-8")), set(QUIET_TF_ENV))
        if found and _rel(path) != ENV_HOME:
            spelled[_rel(path)] = sorted(found)
    unexpected = {k: v for k, v in spelled.items() if k not in PENDING_ENV_SPELLINGS}
    assert not unexpected, (
        f"{unexpected}: import relu_course.runtime.KERNEL_ENV (or QUIET_TF_ENV) instead"
    )
    stale = sorted(PENDING_ENV_SPELLINGS - set(spelled))
    assert not stale, f"{stale} no longer spell the environment: drop them from PENDING"
    assert "TF_CPP_MIN_LOG_LEVEL" in _spells(
        ast.parse((ROOT / ENV_HOME).read_text(encoding="utf-8")), set(QUIET_TF_ENV)
    ), "the scan looks for the wrong spelling"


# Every variable a sandboxed process gets, by name: nothing of the grader's environment
# (tokens, home, proxy settings) may reach student code. A new key is a decision made here.
SANDBOX_KEYS = {
    "PATH",
    "LANG",
    "MPLBACKEND",
    "PYTHONDONTWRITEBYTECODE",
    "CUDA_VISIBLE_DEVICES",
    *KERNEL_ENV,
}
SANDBOX_SCRATCH_KEYS = {
    "HOME",
    "IPYTHONDIR",
    "MPLCONFIGDIR",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "JUPYTER_RUNTIME_DIR",
    "TMPDIR",
}


def _sandbox_env(args: list[str]) -> dict[str, str]:
    env = {}
    for i, arg in enumerate(args):
        if arg == "--setenv":
            env[args[i + 1]] = args[i + 2]
    return env


@pytest.mark.parametrize("with_scratch", [True, False])
def test_sandbox_environment_is_minimal_and_the_kernels(tmp_path, monkeypatch, with_scratch):
    from relu_course.grading.sandbox import Sandbox

    monkeypatch.setenv("RELU_COURSE_GRADER_SECRET", "canary-7f3a")
    box = Sandbox(scratch=tmp_path if with_scratch else None)
    args = box.command([sys.executable, "-c", "pass"], cwd=tmp_path)
    assert "--clearenv" in args
    assert args.index("--clearenv") < args.index("--setenv"), "set after clearing, not before"
    env = _sandbox_env(args)
    expected = SANDBOX_KEYS | (SANDBOX_SCRATCH_KEYS if with_scratch else {"HOME"})
    assert set(env) == expected
    assert {k: env[k] for k in KERNEL_ENV} == KERNEL_ENV
    assert "canary-7f3a" not in args


def test_grading_kernel_runs_with_the_course_kernel_environment():
    from relu_course.grading.execute import GRADING_KERNEL_ENV

    assert GRADING_KERNEL_ENV == {**KERNEL_ENV, "MPLBACKEND": "Agg"}


# ------------------------------------------------------------------ running nbgrader
NBGRADER_HOME = "relu_course/grading/grade.py"  # nbgrader_command: argv and environment
PENDING_NBGRADER_RUNS: set[str] = set()


def _runs_nbgrader(tree: ast.AST) -> bool:
    """An argument list with ``"-m", "nbgrader"`` in it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.List):
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if any(a == "-m" and b == "nbgrader" for a, b in itertools.pairwise(values)):
                return True
    return False


def test_nbgrader_is_started_by_one_helper():
    """``relu-course release`` and ``grade`` start nbgrader with the same interpreter and
    environment: grading.grade.nbgrader_command builds both."""
    runners = {
        _rel(path)
        for path in _modules("relu_course")
        if _runs_nbgrader(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert NBGRADER_HOME in runners, "the scan looks for the wrong spelling"
    unexpected = sorted(runners - {NBGRADER_HOME} - PENDING_NBGRADER_RUNS)
    assert not unexpected, f"{unexpected} start nbgrader: use grading.grade.nbgrader_command"
    stale = sorted(PENDING_NBGRADER_RUNS - runners)
    assert not stale, f"{stale} no longer start nbgrader themselves: drop them from PENDING"


# ------------------------------------------------------------------ unused helpers
# Public functions and classes that nothing outside the tests uses, kept on purpose.
KEPT = {
    "regression_1d": "issue 10: the next notebooks fit 1-D functions with it",
}


def _used_names() -> dict[str, int]:
    """How often each word appears in what ships: the package, the solution notebooks,
    the benchmarks, the bootstrap and the project's configuration (not the tests)."""
    files = [
        *_modules("relu_course", "benchmarks"),
        *sorted((ROOT / "solutions").glob("*/*.ipynb")),
        ROOT / "course.py",
        ROOT / "nbgrader_config.py",
        ROOT / "pyproject.toml",
    ]
    counts: dict[str, int] = {}
    for path in files:
        for word in re.findall(r"\w+", path.read_text(encoding="utf-8")):
            counts[word] = counts.get(word, 0) + 1
    return counts


def test_every_public_helper_is_used_outside_the_tests():
    """A helper only its own test calls is dead weight: use it or remove it (with its test);
    KEPT says why the few exceptions stay."""
    counts = _used_names()
    unused, own_counts = [], {}
    for path in _modules("relu_course"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exported = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                own = 1 + (node.name in exported)  # its definition and its __all__ entry
                own_counts[node.name] = own
                if counts.get(node.name, 0) <= own and node.name not in KEPT:
                    unused.append(f"{_rel(path)}: {node.name}")
    assert not unused, "used by nothing but (at most) its tests:\n" + "\n".join(unused)
    stale = [name for name in KEPT if counts.get(name, 0) > own_counts.get(name, 0)]
    assert not stale, f"{stale} are used now: drop them from KEPT"


# ------------------------------------------------------------------ names in the docs
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH_RE = re.compile(
    r"(?<![\w/.-])((?:relu_course|tests|solutions|notebooks|benchmarks|docs)/[\w<>*./-]*[\w>*])"
)


def _named_paths(text: str) -> set[str]:
    """Repository paths named in ``text``, without templates (``solutions/NN_name/...``,
    ``tests/test_checks_<topic>.py``, ``tests/test_checks_*.py``)."""
    return {p for p in PATH_RE.findall(text) if not any(t in p for t in ("<", "*", "NN_"))}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: _rel(p))
def test_paths_named_in_the_docs_exist(doc):
    missing = sorted(
        p for p in _named_paths(doc.read_text(encoding="utf-8")) if not (ROOT / p).exists()
    )
    assert not missing, f"{_rel(doc)} names files that do not exist: {missing}"


def test_paths_named_in_code_comments_and_docstrings_exist():
    missing = []
    for path in [*_modules("relu_course", "tests", "benchmarks"), ROOT / "course.py"]:
        if path == Path(__file__).resolve():
            continue  # its own examples of dead names
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for named in _named_paths(line):
                if not (ROOT / named).exists():
                    missing.append(f"{_rel(path)}:{line_no}: {named}")
    assert not missing, "names of files that do not exist:\n" + "\n".join(missing)


# Top-level documents named by file name (COURSE.md, STACK.md: the team's notes, not in the
# repository) must exist at the root. Owned elsewhere and not yet reworded: same rule as above.
PENDING_ROOT_DOCS: set[str] = set()


def test_top_level_documents_named_exist():
    named = {}
    for path in [*DOCS, *_modules("relu_course", "tests", "benchmarks"), ROOT / "course.py"]:
        if path == Path(__file__).resolve():
            continue
        for name in re.findall(r"(?<![\w/.-])([A-Z][A-Z_]*\.md)\b", path.read_text("utf-8")):
            if not (ROOT / name).exists():
                named.setdefault(_rel(path), set()).add(name)
    unexpected = {k: sorted(v) for k, v in named.items() if k not in PENDING_ROOT_DOCS}
    assert not unexpected, f"documents that are not in the repository: {unexpected}"
    stale = sorted(PENDING_ROOT_DOCS - set(named))
    assert not stale, f"{stale} no longer name missing documents: drop them from PENDING"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: _rel(p))
def test_modules_named_in_the_docs_exist(doc):
    missing = []
    for dotted in set(
        re.findall(r"\brelu_course(?:\.[a-z_]\w*)+(?![\w.<*])", doc.read_text("utf-8"))
    ):
        parts = dotted.split(".")
        # the longest importable prefix is a module; what follows must be an attribute of it
        for cut in range(len(parts), 0, -1):
            name = ".".join(parts[:cut])
            if importlib.util.find_spec(name) is not None:
                break
        if cut < len(parts) and not _has_attribute(name, parts[cut:]):
            missing.append(dotted)
    assert not missing, f"{_rel(doc)} names modules or objects that do not exist: {missing}"


def _has_attribute(module: str, attributes: list[str]) -> bool:
    import importlib

    obj = importlib.import_module(module)
    for attribute in attributes:
        if not hasattr(obj, attribute):
            return False
        obj = getattr(obj, attribute)
    return True


def test_the_path_scan_sees_paths():
    """The scans above would pass on nothing: they must find what is there."""
    readme = _named_paths((ROOT / "README.md").read_text(encoding="utf-8"))
    assert {"docs/threat-model.md", "benchmarks/run.py"} <= readme
    named = _named_paths("see relu_course/course.py, tests/test_x_<topic>.py, tests/test_*.py")
    assert named == {"relu_course/course.py"}
