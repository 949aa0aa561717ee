"""The ``relu-course`` command line. Heavy imports happen inside commands, so ``--help``
answers at once and never starts TensorFlow."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _doctor(args: argparse.Namespace) -> int:
    import importlib.metadata as md
    import os
    import shutil

    from relu_course import runtime
    from relu_course.layout import KERNEL, assignments, course_root, ensure_kernel

    runtime.quiet_tensorflow()
    if getattr(args, "fix", False):
        print(f"relu-course kernel: {ensure_kernel()}")
    rows = dict(runtime.device_report())
    for package in ("nbgrader", "nbval", "matplotlib", "scikit-learn", "pandas"):
        try:
            rows[package] = md.version(package)
        except md.PackageNotFoundError:
            rows[package] = "MISSING"
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(KERNEL["name"])
        same = os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable)
        rows["kernel"] = f"{KERNEL['name']} → {spec.argv[0]}" + (
            "" if same else "  (WARNING: another Python)"
        )
    except Exception:  # noqa: BLE001 - report, don't crash
        rows["kernel"] = (
            f"{KERNEL['name']} NOT INSTALLED (run: relu-course doctor --fix, "
            "or python3 course.py setup)"
        )
    root = course_root()
    rows["course folder"] = str(root)
    try:
        rows["notebooks"] = ", ".join(assignments(root)) or "none found"
    except FileNotFoundError:
        rows["notebooks"] = "solutions/ not found (run from the course checkout)"
    on_path = shutil.which("relu-course")
    here = os.path.join(os.path.dirname(sys.executable), "relu-course")
    rows["relu-course on PATH"] = on_path or (
        f"no: run `source {os.path.dirname(sys.executable)}/activate` first, or call {here}"
    )
    width = max(map(len, rows))
    print("relu-course doctor")
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")
    problems = [k for k, v in rows.items() if "MISSING" in str(v) or "NOT INSTALLED" in str(v)]
    return 1 if problems else 0


def _site(args: argparse.Namespace) -> int:
    from relu_course.site import build_site

    try:
        built = build_site(
            out=args.out,
            names=args.assignment or None,
            timeout=args.timeout,
            execute=not args.no_execute,
        )
    except (RuntimeError, ImportError) as error:
        print(f"relu-course site: {error}", file=sys.stderr)
        return 1
    print(f"[site] {len(built.pages)} pages in {built.seconds:.0f} s: {built.html / 'index.html'}")
    return 0


def _release(args: argparse.Namespace) -> int:
    from relu_course.release import generate_release

    for path in generate_release(only=args.assignment or None):
        print(f"wrote {path}")
    return 0


def _format(args: argparse.Namespace) -> int:
    import nbformat

    from relu_course.layout import assignments, canonical, solution_notebook

    for assignment in args.assignment or assignments():
        path = solution_notebook(assignment)
        nb = nbformat.read(path, as_version=4)
        nbformat.write(canonical(nb), path)
        print(f"formatted {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from relu_course.grading.check import main as check_main

    return check_main(args)


def _grade(args: argparse.Namespace) -> int:
    from relu_course.grading.grade import main as grade_main

    return grade_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relu-course",
        description="Tools for the ReLU course: environment report, release, checking, grading.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser("doctor", help="versions, devices, TF32, kernel, course files")
    doctor.add_argument(
        "--fix",
        action="store_true",
        help="register the relu-course Jupyter kernel for this Python if missing or stale",
    )
    doctor.set_defaults(run=_doctor)

    release = sub.add_parser("release", help="regenerate notebooks/ from solutions/ (nbgrader)")
    release.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    release.set_defaults(run=_release)

    site = sub.add_parser(
        "site", help="build the course as a static HTML site (offline; runs the solutions)"
    )
    site.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    site.add_argument(
        "--out", default=None, help="output folder (default: <course>/.relu-course/site)"
    )
    site.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    site.add_argument(
        "--no-execute", action="store_true", help="pages without outputs (fast, for drafts)"
    )
    site.set_defaults(run=_site)

    fmt = sub.add_parser("format", help="canonicalise solutions/ notebooks (no outputs, kernel)")
    fmt.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    fmt.set_defaults(run=_format)

    check = sub.add_parser("check", help="run your notebooks and print a score table")
    check.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/)")
    check.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    check.add_argument(
        "--verbose",
        action="store_true",
        help="show every failure in full (expected, got, input, hint)",
    )
    check.set_defaults(run=_check)

    grade = sub.add_parser("grade", help="instructors: autograde submissions with nbgrader")
    grade.add_argument("assignment", nargs="*", help="assignment ids (default: all collected)")
    grade.add_argument(
        "--submitted",
        default=None,
        help="folder in nbgrader layout <student>/<assignment>/ (default: <course>/submitted)",
    )
    grade.add_argument(
        "--jobs", type=int, default=None, help="parallel submissions (default: number of cores)"
    )
    grade.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    grade.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without bubblewrap (trusted submissions only; the report says so)",
    )
    grade.add_argument(
        "--wall-limit",
        type=int,
        default=None,
        help="seconds per submission (default: 15 x --timeout, at least 600)",
    )
    grade.add_argument(
        "--memory-gb",
        type=float,
        default=12.0,
        help="memory limit of each sandboxed process, GiB",
    )
    grade.add_argument(
        "--csv",
        default="grades.csv",
        help="where to write the final grades "
        "(nbgrader's own export goes next to it, as <name>.nbgrader.csv)",
    )
    grade.add_argument(
        "--course",
        default=None,
        help="course folder with nbgrader_config.py "
        "and solutions/ (default: found from the working directory)",
    )
    grade.set_defaults(run=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
