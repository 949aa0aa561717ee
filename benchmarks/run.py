"""Benchmark table: notebook execution time, self-check latency, grading throughput.

    .venv/bin/python benchmarks/run.py [--notebooks 01_relu ...] [--repeats 5] [--no-grading]
    .venv/bin/python benchmarks/run.py --update-readme     # all notebooks, then README tables

Each solution notebook runs top to bottom in a fresh `relu-course` kernel (kernel start
included), one after another, against the 60 s budget; then, in that same kernel, every
self-check of the notebook is re-run ``--repeats`` times on the solution to time it.
Not a test: it prints a table (``--markdown`` as Markdown). Every claim the notebooks record
goes to ``benchmarks/claims.jsonl`` (the run's ledger); ``--update-readme`` rewrites the
README's fact-check table (from that ledger, through ``relu_course.factcheck``) and its
benchmark tables, between their markers. ``tests/test_readme.py`` keeps the README's
fact-check table equal to what the committed ledger gives.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "benchmarks" / "claims.jsonl"
README = ROOT / "README.md"
FACT_CHECK_MARKERS = ("<!-- BEGIN fact-check table", "<!-- END fact-check table -->")
BENCHMARK_MARKERS = ("<!-- BEGIN benchmark tables", "<!-- END benchmark tables -->")
BUDGET_S = 60.0
CURRICULUM_BUDGET_S = 360.0

TIMING_CELL = """
import json as _json, time as _time
import relu_course.checks as _checks
_latency = {{}}
for _name, _module in _checks.EXERCISES.items():
    if _name in globals():
        _times = []
        for _ in range({repeats}):
            _start = _time.perf_counter()
            getattr(_checks, "check_" + _name)(globals()[_name])
            _times.append(_time.perf_counter() - _start)
        _latency[_name] = _times
print("CHECK-LATENCY " + _json.dumps(_latency))
"""


def run_notebook(assignment: str, repeats: int) -> tuple[float, dict[str, list[float]], int]:
    import nbformat
    from nbclient import NotebookClient

    from relu_course.layout import solution_notebook

    path = solution_notebook(assignment, ROOT)
    nb = nbformat.read(path, as_version=4)
    original = len(nb.cells)
    if repeats:
        nb.cells.append(nbformat.v4.new_code_cell(TIMING_CELL.format(repeats=repeats)))
    import tempfile

    from jupyter_client.manager import KernelManager

    sockets = tempfile.mkdtemp(prefix="relu-course-bench-")
    # IPC sockets: no network port, no "running over TCP without encryption" warning
    manager = KernelManager(
        kernel_name="relu-course", transport="ipc", ip=os.path.join(sockets, "k")
    )
    client = NotebookClient(
        nb,
        km=manager,
        timeout=600,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    elapsed = 0.0
    try:
        with client.setup_kernel():  # kernel start counts toward the notebook's time
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
                if index == original - 1:
                    elapsed = time.perf_counter() - start
    finally:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    errors = sum(
        1
        for c in nb.cells[:original]
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    )
    latency: dict[str, list[float]] = {}
    for output in nb.cells[-1].outputs if repeats else []:
        for line in output.get("text", "").splitlines():
            if line.startswith("CHECK-LATENCY "):
                latency = json.loads(line.removeprefix("CHECK-LATENCY "))
    return elapsed, latency, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per check")
    parser.add_argument("--no-grading", action="store_true", help="skip grading throughput")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="run every notebook, then rewrite the README's fact-check and benchmark tables",
    )
    args = parser.parse_args(argv)

    from relu_course.runtime import KERNEL_ENV

    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("MPLBACKEND", "Agg")
    from relu_course.layout import assignments

    if args.update_readme and args.notebooks:
        parser.error("--update-readme runs every notebook: drop --notebooks")
    names = args.notebooks or assignments(ROOT)
    claims_file = CLAIMS if not args.notebooks else CLAIMS.with_suffix(".partial.jsonl")
    claims_file.unlink(missing_ok=True)
    os.environ["RELU_COURSE_CLAIMS"] = str(claims_file)  # the kernels inherit it
    rows, check_rows, total = [], [], 0.0
    for name in names:
        elapsed, latency, errors = run_notebook(name, args.repeats)
        total += elapsed
        status = (
            "ok"
            if elapsed <= BUDGET_S and not errors
            else (f"{errors} errors" if errors else "OVER BUDGET")
        )
        rows.append((name, f"{elapsed:.1f}", f"{BUDGET_S:.0f}", status))
        for check, times in latency.items():
            check_rows.append(
                (
                    f"check_{check}",
                    name,
                    f"{statistics.median(times):.3f}",
                    f"{max(times):.3f}",
                    str(len(times)),
                )
            )
        print(f"  ran {name}: {elapsed:.1f} s", file=sys.stderr, flush=True)
    if len(names) > 1:
        rows.append(
            (
                "total",
                f"{total:.1f}",
                f"{CURRICULUM_BUDGET_S:.0f}",
                "ok" if total <= CURRICULUM_BUDGET_S else "OVER BUDGET",
            )
        )

    tables = [
        (
            f"Notebook execution ({os.cpu_count()} cores, fresh kernel each)",
            ("notebook", "wall s", "budget s", "status"),
            rows,
        ),
        (
            "Self-check latency on the solutions",
            ("check", "notebook", "median s", "max s", "runs"),
            check_rows,
        ),
    ]
    if not args.no_grading:
        sys.path.insert(0, str(Path(__file__).parent))
        try:
            import grading_throughput  # noqa: PLC0415 - optional sibling script
        except ImportError:
            grading_throughput = None
        if grading_throughput is not None:
            results = grading_throughput.measure()
            tables.append(
                (
                    "Grading throughput (relu-course grade)",
                    tuple(results[0].keys()) if results else ("jobs",),
                    [tuple(str(v) for v in r.values()) for r in results],
                )
            )
    for title, header, body in tables:
        print(_table(title, header, body, markdown=args.markdown))
    print(f"claims of this run: {claims_file.relative_to(ROOT)}", file=sys.stderr)
    if args.update_readme:
        import platform

        from relu_course.runtime import device_report

        info = device_report()
        stamp = (
            f"Last run ({time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core {platform.machine()} "
            f"CPU, devices {info['devices']}, TensorFlow {info['tensorflow']} / Keras "
            f"{info['keras']})"
        )
        text = README.read_text(encoding="utf-8")
        text = replace_block(text, FACT_CHECK_MARKERS, fact_check_markdown(claims_file))
        benchmark = (
            stamp
            + ":\n\n"
            + "\n".join(
                _table(title, header, body, markdown=True) for title, header, body in tables
            )
        )
        text = replace_block(text, BENCHMARK_MARKERS, benchmark)
        README.write_text(text, encoding="utf-8")
        print("README.md: fact-check and benchmark tables rewritten", file=sys.stderr)
    return 0


def fact_check_markdown(claims_file: Path) -> str:
    """The README's fact-check table: relu_course.factcheck's verdicts on a run's ledger."""
    from relu_course.factcheck import fact_check_table
    from relu_course.ledger import recorded_claims

    table = fact_check_table(recorded_claims(claims_file))
    lines = ["| the article says | verdict at this scale | measured | where |", "|---|---|---|---|"]
    for _, row in table.iterrows():
        cells = [row["claim"], f"**{row['verdict']}**", row["numbers"], row["measured in"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, markers: tuple[str, str], body: str) -> str:
    """Replace what lies between the marker lines (kept) with ``body``."""
    begin, end = markers
    start = text.index(begin)
    start = text.index("\n", start) + 1
    stop = text.index(end, start)
    return text[:start] + "\n" + body.rstrip("\n") + "\n\n" + text[stop:]


def read_block(text: str, markers: tuple[str, str]) -> str:
    begin, end = markers
    start = text.index("\n", text.index(begin)) + 1
    return text[start : text.index(end, start)].strip("\n") + "\n"


def _table(title: str, header: tuple, body: list[tuple], markdown: bool) -> str:
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [title, fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in body]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
