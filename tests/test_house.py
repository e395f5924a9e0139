"""The house's rules, read from the code itself: imports run one way between the rooms, there
are no cycles, and only cli.py speaks in command-line flags."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamdream"

# what each room may import besides itself; a module not named here is a job (image, video,
# zoom, visualize, metrics, depth, service), which may use every room but cli and the other jobs
BASE = {"errors", "signals", "frames", "commands", "config", "presets"}
ROOMS = {
    "base": set(),
    "models": {"base"},
    "engine": {"base", "models"},
    "media": {"base"},
    "pipeline": {"base"},
    "schedule": {"base", "engine", "media"},
    "live": {"base", "models", "engine", "media", "pipeline", "schedule"},
    # `video` on many machines: the video job's own stage, timeline and record, run by workers
    "cluster": {"base", "models", "engine", "media", "pipeline", "schedule", "video"},
}
JOBS = {"image", "video", "zoom", "visualize", "metrics", "depth", "service"}


def room(module: str) -> str:
    top = module.split(".")[0]
    if top in BASE:
        return "base"
    return top if top in ROOMS or top in JOBS or top == "cli" else "base"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """The streamdream modules `name` imports, at the top or inside functions."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("streamdream"):
                target = node.module[len("streamdream."):]
            else:
                continue
            for alias in node.names:  # `from . import models` names a module too
                candidate = f"{target}.{alias.name}" if target else alias.name
                found.add(candidate if candidate in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


MODULES = modules()
GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_imports_run_one_way_between_the_rooms():
    wrong = []
    for name, targets in GRAPH.items():
        here = room(name)
        for target in targets:
            there = room(target)
            if there == here or here == "cli" or name in ("__init__", "__main__") or there == "base" and here != "base":
                continue
            if here in JOBS:
                ok = there not in JOBS and there != "cli" or (name, target) == ("visualize", "visualize")
            else:
                ok = there in ROOMS.get(here, set())
            if not ok:
                wrong.append(f"{name} -> {target}")
    assert not wrong, wrong


def test_there_are_no_import_cycles():
    state: dict[str, int] = {}

    def visit(name, path):
        state[name] = 1
        for target in GRAPH[name]:
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join(path + [target]))
            if target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in GRAPH:
        if name not in state:
            visit(name, [name])


FLAG = re.compile(r"(?<![\w-])--[a-z]")


def test_no_library_message_names_a_command_line_flag():
    """A library error reads right from a preset, a schedule or Python: it names the setting
    (`width`), and cli.py alone turns that into --width."""
    found = []
    for name, path in MODULES.items():
        if name == "cli":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        # another program's own flags (systemctl's) in the command line handed to it are not messages
        argv = {id(part) for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess" and node.args
                and isinstance(node.args[0], ast.List) for part in node.args[0].elts}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings | argv:
                if FLAG.search(node.value):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value.strip()[:80]}")
    assert not found, found


def test_the_grep_finds_a_flag_where_there_is_one():
    assert FLAG.search("pass --width 64") and FLAG.search("(--overwrite)")
    assert not FLAG.search("set `width` to 64") and not FLAG.search("rc-lookahead") and not FLAG.search("a -- b")


def test_the_rooms_are_measured_on_the_real_package():
    # the rules above hold because they were checked, not because nothing was found
    assert {"engine.dream", "models.dreamnet", "media.video_out", "live.stage", "pipeline", "cli"} <= set(MODULES)
    assert "engine.dreamer" in GRAPH["video"] and "models.registry" in GRAPH["engine.dreamer"] | {
        t for m in GRAPH["engine.dreamer"] for t in GRAPH[m]}
