"""Imports show the architecture: no import cycles between kit modules, and heavy libraries stay lazy."""

import ast
import subprocess
import sys
from pathlib import Path

import kit

KIT = Path(kit.__file__).parent
HEAVY = ("torch", "transformers", "trl", "unsloth", "vllm", "gradio", "peft", "bitsandbytes", "datasets")


def _module_name(path: Path) -> str:
    parts = path.relative_to(KIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported: its module-level statements (not function bodies)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, (ast.If, ast.Try)):  # `if TYPE_CHECKING:` blocks never run
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes = list(ast.walk(node))
        for child in nodes:
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names}
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module)
                found |= {f"{child.module}.{alias.name}" for alias in child.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in KIT.rglob("*.py")}
    return {name: {m for m in _top_level_imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


# Modules that subclass a heavy library's class (transformers' TrainerCallback) and so import it at their top;
# every kit module imports them inside the training functions only.
TRAINING_ONLY = {"kit.train.callbacks"}


def test_heavy_libraries_are_imported_lazily():
    """No kit module imports torch, transformers, trl, ... at its top: `mthinker --help` stays fast."""
    offenders = {name: sorted(m for m in _top_level_imports(path) if m.split(".")[0] in HEAVY)
                 for name, path in ((_module_name(p), p) for p in KIT.rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v and k not in TRAINING_ONLY} == {}
    importers = {name for name, imported in _graph().items() if imported & TRAINING_ONLY}
    assert importers == set(), f"{importers} import {TRAINING_ONLY} at their top"


def test_cli_help_imports_no_heavy_library():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom kit.cli.main import app\n"
            "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
