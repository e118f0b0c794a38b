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


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _graph() -> dict[str, set[str]]:
    """Each kit module's kit imports at its top, with the packages they load: importing ``kit.a.b`` runs
    ``kit/a/__init__.py`` first (its own packages aside: they are always loaded before a module)."""
    modules = {_module_name(p): p for p in KIT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = {m for m in _top_level_imports(path) if m in modules}
        found |= {a for m in found for a in _ancestors(m) if a in modules}
        graph[name] = found - _ancestors(name) - {name}
    return graph


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


# The layers, lowest first (docs/architecture.md draws the same map): a module imports modules of its own layer
# or of lower ones, never of a higher one. The most specific prefix decides a module's layer.
LAYERS = {
    # 0 foundation: the registry and the helpers everything reads
    "kit": 0, "kit.enums": 0, "kit.languages": 0, "kit.paths": 0, "kit.textfiles": 0, "kit.oom": 0,
    "kit.notebook_setup": 0, "kit.prompts": 0, "kit.lid": 0,
    # 1 components: the reward components (the only parser, math-verify, LC), data and benchmarks, models
    "kit.rewards": 1, "kit.data": 1, "kit.tiny": 1, "kit.models": 1, "kit.generation": 1,
    # 2 the CTA judges (they read answers with the reward components; the local judge loads a model)
    "kit.judges": 2,
    # 3 the reward combinations, which call a judge for CTA
    "kit.rewards.mthinker": 3, "kit.rewards.trl": 3, "kit.rewards.verl": 3,
    # 4 the stages: evaluation, training
    "kit.eval": 4, "kit.train": 4,
    # 5 the tools built on the stages: benchmarks of the kit itself, the demo
    "kit.bench": 5, "kit.app": 5,
    # 6 the command line
    "kit.cli": 6,
}


def layer_of(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{name} (layer {layer_of(name)}) imports {dep} (layer {layer_of(dep)})"
                    for name, deps in _graph().items() for dep in deps if layer_of(dep) > layer_of(name))
    assert upward == []


def test_the_layer_check_sees_package_imports():
    """Importing a reward component must not pull the judges in through ``kit/rewards/__init__.py``."""
    graph = _graph()
    assert "kit.rewards" in graph["kit.judges.symbolic"]  # kit.rewards.parsing loads the package first
    assert {m for m in graph["kit.rewards"] if m.startswith("kit.judges")} == set()
    assert "kit.judges" not in graph["kit.judges.symbolic"]  # its own package: always loaded first


def test_no_kit_import_hides_inside_a_function():
    """Kit-internal imports sit at the top of the module, where the layer check sees them (except the
    training-only modules, which import transformers)."""
    hidden = []
    for path in KIT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else (
                node.names[0].name if isinstance(node, ast.Import) else None)
            if module and module.split(".")[0] == "kit" and module not in TRAINING_ONLY and id(node) not in top \
                    and not _type_checking(tree, node):
                hidden.append(f"{_module_name(path)}:{node.lineno}")
    assert hidden == []


def _type_checking(tree: ast.Module, node: ast.AST) -> bool:
    return any(isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test) and node in ast.walk(block)
               for block in tree.body)


# Modules that subclass a heavy library's class (transformers' TrainerCallback) and so import it at their top;
# every kit module imports them inside the training functions only, as it imports the heavy libraries.
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
