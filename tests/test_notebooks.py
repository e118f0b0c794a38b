"""The Colab notebooks: each ``notebooks/NAME.ipynb`` is paired with its jupytext percent script
``notebooks/NAME.py`` (the reviewed source; ``jupytext --sync notebooks/*.py`` after editing either), valid
nbformat with outputs stripped, every ``from kit... import`` in a cell resolvable, the set-up cell tested in a
real kernel whose environment lacks the kit, and 01_quickstart plus the tiny variant of 03_eval executed
headless with nbclient on this venv's kernel, with small parameters injected into the cell tagged
``parameters``."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_grpo_colab_t4.ipynb", "03_eval.ipynb", "04_demo.ipynb"]

# 01 in CI: two languages, three questions each with a format-only warm-up (no drift, one trace each: memorized
# by 120 SFT steps, so that select keeps some), one iteration with one GRPO step: a short run of every stage.
QUICKSTART_CI_OVERRIDES = [
    "data.langs=[ja,fr]", "cold_start.limit_per_lang=3", "sft.max_steps=120", "sft.per_device_train_batch_size=8",
    "cold_start.drift_rate=0", "cold_start.traces_per_question=1",
    "sft.logging_steps=20", "select.limit_per_lang=3", "pipeline.iterations=1", "pipeline.grpo_steps=1",
    "pipeline.eval_per_lang=1", "pipeline.eval_n=2",
    "grpo.per_device_train_batch_size=4",  # one prompt per GRPO batch: select keeps few of its 6 questions
]


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    return tagged[0]


def cells_of(nb) -> list[tuple[str, str, list]]:
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_and_its_percent_script_are_in_sync(name):
    import jupytext

    script = NOTEBOOKS / name.replace(".ipynb", ".py")
    assert script.is_file(), f"{script} missing: the percent script is the notebook's source"
    paired = jupytext.read(script)
    assert cells_of(paired) == cells_of(load(name)), f"{name} differs from {script.name}: jupytext --sync it"
    assert paired.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_valid_stripped_and_colab_ready(name):
    nb = load(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs not stripped"
    first_markdown = nb.cells[0].source
    assert "colab.research.google.com/github/" in first_markdown and f"/blob/main/notebooks/{name}" in first_markdown
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "ensure_installed(ROOT, EXTRAS)" in first_code.source and "report_hardware(" in first_code.source
    assert parameters_cell(nb) is not first_code
    text = "\n".join(c.source for c in nb.cells).lower()
    assert "estimate" in text or "measured" in text, f"{name}: no time/memory figures"
    for placeholder in ("FULL_RUN", "TODO", "TBD", "XXX"):
        assert placeholder.lower() not in text, f"{name}: placeholder {placeholder} left in the text"
    for cell in nb.cells:  # every code cell at least compiles (IPython magics are not used)
        if cell.cell_type == "code":
            compile(cell.source, f"{name}:{cell.id}", "exec")


def test_the_setup_cells_are_one_cell():
    """Each notebook carries the set-up cell (it runs before the kit exists in a Colab runtime): the copies
    differ only in their extras and their no-GPU note, so a fix to one cannot miss the others."""
    def normalized(name):
        source = next(c for c in load(name).cells if c.cell_type == "code").source
        source = re.sub(r'^EXTRAS = ".*"$', "EXTRAS", source, flags=re.MULTILINE)
        return re.sub(r'^report_hardware\(.*\)$', "report_hardware", source, flags=re.MULTILINE)

    assert len({normalized(name) for name in NAMES}) == 1


@pytest.mark.parametrize("name", NAMES)
def test_every_kit_name_a_notebook_imports_exists(name):
    """Notebook 02 runs only on a GPU: at least the library names its cells import must exist (a rename in
    the kit fails here, not in a user's Colab session)."""
    for cell in load(name).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kit"):
                module = importlib.import_module(node.module)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert not missing, f"{name}: {node.module} has no {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_default_notebooks_stop_before_cloning_the_placeholder(name, tmp_path):
    """Outside a checkout (Colab), the set-up cell of a placeholder build refuses to clone and says what to set."""
    first_code = next(c for c in load(name).cells if c.cell_type == "code")
    assert 'GITHUB_REPO = "YOUR_GITHUB_USER/mthinker-kit"' in first_code.source
    script = tmp_path / "setup_cell.py"
    script.write_text(first_code.source, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode != 0
    assert "GITHUB_REPO is still the placeholder" in result.stderr and "set it at the top of" in result.stderr
    assert not (tmp_path / "mthinker-kit").exists()  # nothing was cloned


def execute(nb: nbformat.NotebookNode, workdir: Path, timeout: int = 600) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    # The kernelspec's argv is ["python", ...]; jupyter_client swaps "python" for sys.executable, so the
    # kernel is this venv's interpreter even when .venv/bin is not on PATH (a fresh clone under `make test`).
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:  # MTHINKER_NOTEBOOK_OUT=DIR keeps the executed copy, outputs included, for a look
        keep = os.environ.get("MTHINKER_NOTEBOOK_OUT")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, Path(keep) / nb.metadata["colab"]["name"])
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or json.dumps(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_runs_headless(tiny_cache, tmp_path):
    nb = load("01_quickstart.ipynb")
    output = tmp_path / "quickstart"
    parameters_cell(nb).source += (
        f"\nOUTPUT = {str(output)!r}\nOVERRIDES = {QUICKSTART_CI_OVERRIDES!r}\n"
        "EVAL_LANGS = 'ja,fr'\nEVAL_LIMIT = 1\nEVAL_N = 1\nEVAL_MAX_TOKENS = 16\n"
    )
    execute(nb, REPO)
    summary = json.loads((output / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["sft", "iter1/select", "iter1/refs", "iter1/grpo"], (
        f"every stage ran (select must keep a question for GRPO to run): {summary['stages']}")
    assert (Path(summary["final_adapter"]) / "adapter_config.json").is_file()
    assert {"before", "after"} <= set(summary)
    for label in ("before", "after"):
        metrics = json.loads((output / f"bench_{label}" / "metrics.json").read_text())
        assert set(metrics["languages"]) == {"ja", "fr"}
    assert (output / "bench_compare.md").is_file()
    text = outputs_text(nb)
    assert "final model:" in text and "Stages" in text
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in nb.cells for o in c.get("outputs", [])), "the report chart is shown"


@pytest.mark.slow
def test_eval_tiny_variant_runs_headless(tiny_cache, tmp_path):
    nb = load("03_eval.ipynb")
    cell = parameters_cell(nb)
    assert "TINY = False" in cell.source
    cell.source = cell.source.replace("TINY = False", "TINY = True")
    # The tiny branch sets OUTPUT; point it into tmp_path by patching the cell that applies it.
    tiny_branch = next(c for c in nb.cells if c.cell_type == "code" and "if TINY:" in c.source)
    assert '"runs/eval-tiny"' in tiny_branch.source
    tiny_branch.source = tiny_branch.source.replace('"runs/eval-tiny"', repr(str(tmp_path / "eval")))
    execute(nb, REPO)
    for bench in ("mmath", "polymath"):
        metrics = json.loads((tmp_path / "eval" / bench / "metrics.json").read_text())
        assert set(metrics["languages"]) == {"ja", "fr"} and metrics["bench"] == bench
        assert (tmp_path / "eval" / bench / "compare_paper.md").read_text().count("|") > 10
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "two report charts and the comparison plot"


@pytest.mark.slow
def test_demo_serves_the_app_headless(tiny_cache):
    """04_demo with the tiny model and no share link: the launched server answers, then the last cell stops it."""
    nb = load("04_demo.ipynb")
    cell = parameters_cell(nb)
    for old, new in (('PRESET = "auto"', 'PRESET = "tiny"'), ("SHARE = True", "SHARE = False")):
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
    assert nb.cells[-1].source == "app.close()"
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(
        "import httpx\nresponse = httpx.get(url, timeout=30)\n"
        "assert response.status_code == 200 and 'gradio' in response.text.lower(), response.status_code\n"
        "print('served', len(response.text), 'bytes')"))
    execute(nb, REPO, timeout=300)
    assert "served" in outputs_text(nb) and "(SHARE is off)" in outputs_text(nb)


def kitless_environment(tmp_path: Path) -> Path:
    """A venv with every package of this one except the kit's distribution (its metadata, the editable finder
    and the `mthinker` command): the state of a Colab runtime that has the dependencies but not the kit. The
    packages are linked, not copied, so nothing in this venv is changed by installing into that one."""
    import site

    venv = tmp_path / "kitless"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = next((venv / "lib").glob("python3*/site-packages"))
    source = Path(next(p for p in site.getsitepackages() if p.endswith("site-packages")))
    for entry in source.iterdir():
        if "mthinker" not in entry.name.lower():
            (target / entry.name).symlink_to(entry)
    return venv


@pytest.mark.slow
def test_setup_cell_installs_the_kit_in_a_kernel_where_only_the_source_tree_is_importable(tmp_path, monkeypatch):
    """The Colab case: the kernel's working directory is a clone, so `import kit` works from the source tree,
    but the distribution and its `mthinker` command are not installed. The set-up cell must install (keeping
    the installed torch, no restart) and then find the command; a second run must skip the install."""
    from nbclient import NotebookClient

    venv = kitless_environment(tmp_path)
    python = venv / "bin" / "python"
    clone = tmp_path / "mthinker-kit"
    shutil.copytree(REPO / "kit", clone / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, clone / name)
    check = subprocess.run([str(python), "-c", "import kit, importlib.metadata as m; m.version('mthinker-kit')"],
                           cwd=clone, capture_output=True, text=True, check=False)
    assert check.returncode != 0 and "PackageNotFoundError" in check.stderr  # importable, not installed
    kernels = tmp_path / "jupyter" / "kernels" / "kitless"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kitless", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # no network in tests: the dependencies are all there, and the build uses this environment's setuptools
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip reads this variable inverted: 0 = no isolation
    setup_cell = next(c for c in load("01_quickstart.ipynb").cells if c.cell_type == "code")
    probe = nbformat.v4.new_code_cell("import shutil\nprint('SETUP', SETUP)\nprint('COMMAND', shutil.which('mthinker'))")
    for run in ("first", "second"):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_cell.source), probe])
        NotebookClient(nb, kernel_name="kitless", timeout=600, resources={"metadata": {"path": str(clone)}}).execute()
        text = outputs_text(nb)
        if run == "first":
            assert "mthinker-kit is not installed" in text and "importing kit from a source tree does not count" in text
            assert "unchanged, no restart needed" in text and "'installed': True" in text and "'restart': False" in text
        else:
            assert "mthinker-kit 0.1.0 is installed" in text and "'installed': False" in text
        assert f"COMMAND {venv / 'bin' / 'mthinker'}" in text
