"""Hints teach; they never hand over the answer.

Every wrong implementation of the misconception catalogues (``*_WRONG`` in
``tests/test_checks_<topic>.py``, paired with its check by the catalogue's own ``*_rejects``
test, and the answer cells of ``PROBE_MISCONCEPTIONS``) is run through its check again; the
hint of each failure message is audited against that exercise's solution body (between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` in ``solutions/NN_*/NN_*.ipynb``):

- **no code n-gram** of 3 or more tokens taken from the solution. Code is tokenised as Python
  (names, numbers, operators); a dotted name (``tf.math.erf``) counts as one token, compared
  by its last part, so naming an API the notebook teaches is vocabulary, while the API with
  its arguments filled in (``erf(x / ...``) is code. The hint's notation for numbers and
  operators is read as code first (``·`` and ``⊙`` multiply, ``√`` is ``sqrt``, ``½`` is 0.5,
  ``π`` is ``pi``, ``−`` is minus), so a formula cannot slip through by being typeset; the
  Greek names of the notebook's symbols (σ, Φ, β) are not code: "σ(βx)" names a concept.
  N-grams made only of brackets, operators, trivial numbers and one-letter names
  (``x * (``, ``( 1 +``) say nothing and are ignored;
- **no non-trivial number of the solution**. Trivial: 0, 1, 2 and ½ (generic factors, the
  kink, a squared norm, a half), and numbers the learner already sees in the answer cell's
  visible part (signature defaults, docstring) — anything else a solution uses (0.044715,
  1e-8, a weight of −2) is part of the answer;
- **no weights**: no list of three or more numbers, nor of two when one is negative
  (an interval ``[a, b]`` with a < b names a domain, not weights);
- **no ready-to-paste code**: no call of a module's function or of a class with its first
  argument filled in (``math.sqrt(2 / math.pi)``, ``tf.maximum(x, 0)``,
  ``Dense(3, activation="relu")``); an elided or keyword-only argument list
  (``Dense(..., use_bias=False)``) names an API option and is allowed, and so is formula
  notation with a plain function name (``max(0, x)``), judged by the two rules above.

What the answer cell already shows the learner (its signature and docstring, which state
the formula the exercise implements) is never a leak: a hint may quote it, though the
hints prefer to point to it ("the docstring's centred difference").

The audit is a test that can fail: deliberately leaky hints, one per rule, must be caught
(``LEAKY``), and teaching hints must pass (``HONEST``).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import io
import re
import tokenize
from pathlib import Path

import nbformat
import numpy as np
import pytest

from relu_course.checks import CheckFailed, registry
from relu_course.grading.cells import is_answer
from relu_course.layout import solution_notebook

HERE = Path(__file__).parent
TRIVIAL_NUMBERS = {0.0, 1.0, 2.0, 0.5}


# ------------------------------------------------------------------ the solution side
@functools.cache
def _answer_cells() -> dict[str, str]:
    """Exercise name -> its answer cell's source, for every solution notebook."""
    cells: dict[str, str] = {}
    for exercise in registry().values():
        if exercise.name in cells:
            continue
        nb = nbformat.read(solution_notebook(exercise.notebook), as_version=4)
        for cell in nb.cells:
            if is_answer(cell):
                cells[cell.metadata["nbgrader"]["grade_id"]] = cell.source
    return cells


_SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


def solution_parts(name: str) -> tuple[str, str]:
    """(solution body, visible rest of the answer cell) of exercise ``name``."""
    source = _answer_cells()[name]
    body = "\n".join(_SOLUTION.findall(source))
    return body, _SOLUTION.sub("", source)


def _number(text: str) -> float | None:
    try:
        return abs(float(text.replace("_", "")))
    except ValueError:
        return None


def code_tokens(source: str) -> list[str]:
    """Python tokens of ``source``: a dotted name is one token (its last part), numbers are
    normalised (``1.0`` and ``1`` are the same token), comments and layout dropped."""
    raw: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.NAME, tokenize.NUMBER, tokenize.OP, tokenize.STRING):
                raw.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return _join_dotted(raw)


def _join_dotted(raw: list[str]) -> list[str]:
    tokens: list[str] = []
    for t in raw:
        if (
            tokens[-1:] == ["."]
            and len(tokens) > 1
            and tokens[-2].isidentifier()
            and t.isidentifier()
        ):
            tokens.pop()
            tokens[-1] = t  # a.b -> b
            continue
        number = _number(t) if t[:1].isdigit() or t[:1] == "." and t[1:2].isdigit() else None
        tokens.append(repr(number) if number is not None else t.strip("\"'"))
    return tokens


def _informative(gram: tuple[str, ...]) -> bool:
    """An n-gram says something if it holds a non-trivial number or a name longer than one
    letter (``( 1 +`` or ``x * (`` is in every formula)."""
    return any(
        (t[:1].isdigit() and float(t) not in TRIVIAL_NUMBERS) or (t.isidentifier() and len(t) > 1)
        for t in gram
    )


def ngrams(tokens: list[str], n: int = 3) -> set[tuple[str, ...]]:
    windows = zip(*(tokens[i:] for i in range(n)), strict=False)  # shorter tails end it
    return {g for g in windows if _informative(g)}


# ------------------------------------------------------------------ the hint side
# Notation for numbers and operators is read as code; the Greek names of the notebook's
# symbols (σ, Φ, β) are not: "σ(βx)" names the concept the notebook defines.
_MATH = {
    "·": " * ",
    "⊙": " * ",
    "×": " * ",
    "−": "-",
    "√": " sqrt ",
    "½": " 0.5 ",
    "²": " ** 2",
    "³": " ** 3",
    "π": " pi ",
}
_HINT_TOKEN = re.compile(
    r"\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?"  # numbers
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"  # (dotted) names
    r"|\*\*|//|==|!=|<=|>=|[-+*/@%()\[\]{},=<>:]"
    r"|[^\s\w]"  # any other sign (; — ? σ) is a token no code has: prose breaks an n-gram
)


def hint_tokens(hint: str) -> list[str]:
    text = hint
    for symbol, code in _MATH.items():
        text = text.replace(symbol, code)
    tokens = []
    for t in _HINT_TOKEN.findall(text):
        if t[:1].isdigit() or t[:1] == ".":
            tokens.append(repr(_number(t)))
        else:
            tokens.append(t.rsplit(".", 1)[-1])
    return tokens


_NUMBER_LIST = re.compile(r"[(\[]\s*[-−]?\d+(?:\.\d+)?(?:\s*,\s*[-−]?\d+(?:\.\d+)?){1,}\s*[)\]]")
# Ready-to-paste code: a call of a module's function or of a class (``math.sqrt(2 / math.pi)``,
# ``Dense(3, activation="relu")``) with its first argument filled in. Not: an elided or
# keyword-only argument list (``Dense(..., use_bias=False)`` names an option), a method
# named on its own (``.astype(float)``), ``check_x(x)`` (how a test cell runs a check), or
# formula notation with a plain function name (``max(0, x)``, ``tanh(x)``): formulas are
# judged by the n-gram and number rules.
_CALL = re.compile(
    r"(?<![\w.])(?!check_)(?:(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*|[A-Z]\w*)"
    r"\((?!\s*(?:\.\.\.|\*\*|\)|[A-Za-z_]\w*\s*=))[\x20-\x7e]*?(?=\)|$)"
)


def leaks(hint: str, name: str) -> list[str]:
    """What in ``hint`` hands over exercise ``name``'s answer (empty when nothing does).
    What the answer cell already shows the learner (signature, docstring) is not a leak."""
    body, visible = solution_parts(name)
    found: list[str] = []
    shown = ngrams(code_tokens(visible)) | ngrams(hint_tokens(visible))
    shared = (ngrams(hint_tokens(hint)) & ngrams(code_tokens(body))) - shown
    found += [f"solution code {' '.join(g)!r}" for g in sorted(shared)]
    seen = {float(t) for t in code_tokens(visible) + hint_tokens(visible) if t[:1].isdigit()}
    numbers = {float(t) for t in code_tokens(body) if t[:1].isdigit()}
    for t in sorted(set(hint_tokens(hint))):
        if t[:1].isdigit() and float(t) in numbers - seen - TRIVIAL_NUMBERS:
            found.append(f"solution number {t}")
    for match in _NUMBER_LIST.finditer(hint):
        values = [
            float(v.replace("−", "-")) for v in re.findall(r"[-−]?\d+(?:\.\d+)?", match.group())
        ]
        interval = match.group().startswith("[") and len(values) == 2 and values[0] < values[1]
        if (
            match.group() not in visible
            and not interval
            and (len(values) >= 3 or any(v < 0 for v in values))
        ):
            found.append(f"weights {match.group()!r}")
    for match in _CALL.finditer(hint):
        if match.group() not in visible:
            found.append(f"ready-to-paste code {match.group()!r}")
    return found


def hint_of(message: str) -> str:
    """The hint of a check's failure message ('' when it has none)."""
    _, _, rest = message.partition("\n  hint: ")
    return rest.split("\n  (inputs from seed", 1)[0].strip() if rest else ""


# ------------------------------------------------------------------ the catalogues
def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_hint_catalogue_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pairs(path: Path) -> list[tuple[str, str]]:
    """(catalogue table, check) pairs: each ``*_rejects`` test reads ``TABLE[name]`` and hands
    it to ``rejected(check_x, ...)``."""
    pairs = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        tables = {
            n.value.id
            for n in ast.walk(node)
            if isinstance(n, ast.Subscript)
            and isinstance(n.value, ast.Name)
            and n.value.id.endswith("WRONG")
        }
        checks = {
            n.args[0].id
            for n in ast.walk(node)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in ("rejected", "assert_rejected")
            and n.args
            and isinstance(n.args[0], ast.Name)
            and n.args[0].id.startswith("check_")
        }
        if len(tables) == 1 and len(checks) == 1 and node.name.endswith("_rejects"):
            pairs.append((tables.pop(), checks.pop()))
    return pairs


def _fixtures_of_rejects_tests(path: Path) -> set[str]:
    """The fixtures the catalogue's ``*_rejects`` tests ask for besides name and rejected."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_rejects"):
            found |= {a.arg for a in node.args.args} - {"name", "rejected"}
    return found


# What the catalogue fixtures do, here for every case: check_DeadUnitMonitor times two real
# Keras fits, which on a loaded machine take longer than the suite's 5 s (see
# tests/test_checks_dead_neurons.py's fit_time_limit).
KNOWN_FIXTURES = {"fit_time_limit"}


@pytest.fixture(autouse=True)
def fit_time_limit(monkeypatch):
    from relu_course.checks import dead_neurons

    monkeypatch.setattr(dead_neurons, "MONITOR_TIME_LIMIT", 60.0)


@functools.cache
def catalogue() -> dict[str, tuple]:
    """``"<exercise>: <misconception>"`` -> (check, candidate or answer source, exercise)."""
    cases: dict[str, tuple] = {}
    for path in sorted(HERE.glob("test_checks_*.py")):
        module = _load(path)
        for table, check_name in _pairs(path):
            check = getattr(module, check_name)
            exercise = check_name.removeprefix("check_")
            for wrong, entry in getattr(module, table).items():
                candidate = entry[0] if isinstance(entry, tuple) else entry
                cases[f"{exercise}: {wrong}"] = (check, candidate, exercise)
        for exercise, source in getattr(module, "PROBE_MISCONCEPTIONS", {}).items():
            check = getattr(importlib.import_module("relu_course.checks"), f"check_{exercise}")
            cases[f"{exercise}: probe misconception"] = (check, source, exercise)
    return cases


@functools.cache
def _notebook_namespace(notebook: str) -> dict:
    """The notebook's imports and every reference solution of it, so that an answer cell of
    ``PROBE_MISCONCEPTIONS`` runs as it would in the notebook."""
    namespace: dict = {}
    nb = nbformat.read(solution_notebook(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        if imports:
            exec(compile(ast.Module(imports, []), notebook, "exec"), namespace)  # noqa: S102
    for cell in nb.cells:
        if is_answer(cell):
            exec(cell.source, namespace)  # noqa: S102 - our own reference solutions
    return namespace


def message_of(case: str) -> str:
    check, candidate, exercise = catalogue()[case]
    if isinstance(candidate, str):
        namespace = dict(_notebook_namespace(registry()[exercise].notebook))
        exec(candidate, namespace)  # noqa: S102 - a catalogue answer cell
        candidate = namespace[exercise]
    with pytest.raises(CheckFailed) as info, np.errstate(all="ignore"):
        check(candidate)
    return str(info.value)


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("case", sorted(catalogue()))
def test_hint_teaches_without_handing_over_the_answer(case):
    message = message_of(case)
    hint = hint_of(message)
    assert hint, f"{case}: the failure has no hint:\n{message}"
    found = leaks(hint, catalogue()[case][2])
    assert not found, f"{case}: the hint hands over the answer ({found}):\n{message}"


def test_every_catalogue_is_paired_with_its_check():
    """Each test_checks file's wrong tables are all audited (none missed by the pairing)."""
    for path in sorted(HERE.glob("test_checks_*.py")):
        paired = {table for table, _ in _pairs(path)}
        tables = set(re.findall(r"^([A-Z_]*WRONG) = ", path.read_text(encoding="utf-8"), re.M))
        assert tables <= paired, f"{path.name}: {sorted(tables - paired)} not audited"
        unknown = _fixtures_of_rejects_tests(path) - KNOWN_FIXTURES
        assert not unknown, f"{path.name}: the audit does not set up the fixtures {unknown}"


# (exercise, a hint that hands over the answer, the rule that must catch it)
LEAKY = [
    ("gelu", "exact GELU is x·Φ(x) = 0.5·x·(1 + erf(x/√2))", "solution code"),
    ("gelu", "the factor is √(2/π): compute it, e.g. math.sqrt(2 / math.pi)", "ready-to-paste"),
    ("gelu", "end with return 0.5 * x * (1.0 + tf.tanh(inner))", "solution code"),
    ("hat_network", "the output weights are (1, −2, 1)", "weights"),
    ("hat_network", "the hidden biases are [1, -1]", "weights"),
    ("hat_network", "a hidden Dense(3, activation='relu')", "ready-to-paste"),
    ("relu_tf", "return tf.maximum(x, 0)", "ready-to-paste"),
    ("relative_error", "divide by np.maximum(1e-8, np.abs(a) + np.abs(b))", "ready-to-paste"),
    ("silu", "SiLU is x * tf.sigmoid(beta * x)", "solution code"),
    ("born_dead_probability", "evaluate the network on 21 grid points", "solution number"),
]
HONEST = {
    "gelu": [
        "GELU weights x by Φ(x), the standard normal CDF (section 2 defines it), not by σ",
        "keep the input's dtype: Python floats (math.sqrt, math.pi) take it on",
    ],
    "hat_network": [
        "the kinks sit where a hidden unit's pre-activation crosses 0",
        "outside [−1, 1] the hat stays flat at 0",
    ],
    "SwiGLU": ["no biases: Dense(..., use_bias=False) if you use Dense sublayers"],
}


@pytest.mark.parametrize(("exercise", "hint", "rule"), LEAKY)
def test_the_audit_catches_a_leaky_hint(exercise, hint, rule):
    found = leaks(hint, exercise)
    assert any(f.startswith(rule) for f in found), (hint, found)


@pytest.mark.parametrize("exercise", sorted(HONEST))
def test_the_audit_lets_a_teaching_hint_through(exercise):
    for hint in HONEST[exercise]:
        assert not leaks(hint, exercise), (hint, leaks(hint, exercise))


def test_hint_is_cut_out_of_the_message():
    message = (
        "relu gives a wrong value.\n  input:    x\n  hint: look at x < 0\n  (inputs from seed 1)"
    )
    assert hint_of(message) == "look at x < 0"
