"""`relu-course site`: the static course site holds no solution and no hidden test, and a
real browser (Debian's Chromium driven by Playwright) renders every page: no console
errors, figures with a size, maths typeset by the local MathJax. One screenshot per page is
kept in .relu-course/test-artifacts/site/ for a person to look at."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from relu_course.layout import assignments, course_root, solution_notebook

ROOT = course_root(Path(__file__).parent)
ARTIFACTS = ROOT / ".relu-course" / "test-artifacts" / "site"
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from relu_course.site import build_site

    return build_site(ROOT, out=tmp_path_factory.mktemp("site"))


def _between(source: str, begin: str, end: str) -> list[str]:
    return re.findall(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", source, re.S)


def _public_text() -> str:
    """The installed package's source is public: a solution line that also appears there
    (``with tf.GradientTape() as tape:``) is no secret."""
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "relu_course").rglob("*.py"))


def _secret_lines() -> dict[str, set[str]]:
    """Per notebook, the lines of solution bodies, hidden tests and mark schemes that appear
    neither in its release (a stub's docstring line is fine to show) nor in the package."""
    public = _public_text()
    secrets = {}
    for name in assignments(ROOT):
        source = nbformat.read(solution_notebook(name, ROOT), as_version=4)
        release_text = (ROOT / "notebooks" / name / f"{name}.ipynb").read_text(encoding="utf-8")
        lines = set()
        for cell in source.cells:
            blocks = _between(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
            blocks += _between(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
            if cell.cell_type == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get(
                "solution"
            ):
                blocks.append(cell.source)
            for block in blocks:
                for line in block.splitlines():
                    line = line.strip()
                    if (
                        len(line) >= 16
                        and line.strip("#").strip()
                        and line not in release_text
                        and line not in public
                    ):
                        lines.add(line)
        secrets[name] = lines
    return secrets


def _figures_in(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def _page_text(path: Path) -> str:
    text = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return html.unescape(text)


def test_site_has_every_page_and_the_claims(site):
    assert site.pages == assignments(ROOT)
    for name in site.pages:
        assert (site.html / f"{name}.html").is_file(), name
    index = _page_text(site.html / "index.html")
    assert "Learning path" in index and "python3 course.py start" in index
    assert site.claims, "the build's run recorded no claims"
    for claim in site.claims[:20]:
        assert claim["id"] in index


def test_site_contains_no_solution_code_and_no_hidden_tests(site):
    secrets = _secret_lines()
    assert sum(map(len, secrets.values())) > 50, "the search would find nothing: check it"
    every_page = "\n".join(_page_text(p) for p in site.html.rglob("*.html"))
    every_page += "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in site.html.rglob("*")
        if p.suffix in (".txt", ".js", ".ipynb") and "_static" not in p.parts
    )
    leaked = {
        name: sorted(line for line in lines if line in every_page)
        for name, lines in secrets.items()
    }
    leaked = {k: v[:5] for k, v in leaked.items() if v}
    assert not leaked, f"solution or hidden-test lines on the site: {leaked}"
    assert "BEGIN HIDDEN TESTS" not in every_page and "BEGIN SOLUTION" not in every_page


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
)
def test_every_page_renders_in_a_browser(site):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name in ["index", *site.pages]:
            errors.clear()
            page.goto((site.html / f"{name}.html").as_uri())
            page.wait_for_load_state("load")
            found = []
            if name != "index":
                sizes = page.eval_on_selector_all(
                    "article img", "els => els.map(e => [e.naturalWidth, e.naturalHeight])"
                )
                wanted = _figures_in(site.html.parent / "source" / f"{name}.ipynb")
                if len(sizes) < wanted:
                    found.append(f"{len(sizes)} figures shown, {wanted} in the notebook")
                if any(w == 0 or h == 0 for w, h in sizes):
                    found.append(f"broken figures: {sizes}")
                if page.locator(".math").count():
                    page.wait_for_selector("mjx-container", timeout=20_000)
                    if page.locator("mjx-container").count() == 0:
                        found.append("maths not typeset")
            if errors:
                found.append(f"console errors: {errors[:3]}")
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
            if found:
                problems[name] = found
        browser.close()
    assert not problems, problems
