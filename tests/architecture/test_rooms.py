"""The rooms of jobledger import only what the rule table allows, and no product modules import in a cycle."""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from collections.abc import Callable, Collection
from functools import cache
from pathlib import Path
from typing import NamedTuple, TypeAlias

import pytest

ROOT = Path(__file__).resolve().parents[2]

# room -> the other rooms it may import; server/ and web/ apply only once their folder exists.
RULES: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "store": frozenset({"domain"}),
    "service": frozenset({"domain", "store", "projections"}),
    "projections": frozenset({"domain", "store"}),  # of store, only STORE_PORTS
    "audit": frozenset({"domain", "store", "service", "projections"}),
    "demo": frozenset({"domain", "service"}),
    "server": frozenset({"domain", "store", "service", "projections", "audit", "demo"}),
    "web": frozenset({"server", "projections"}),
    # The client shares the ledger's command methods and types, and the API's bodies.
    "client": frozenset({"domain", "service", "server"}),
}
RULES["cli"] = frozenset(RULES)  # cli may import every other room; no other room may import cli
PUBLIC_ONLY = {"demo": frozenset({"service"}), "web": frozenset({"server", "projections"})}  # no _private
STORE_PORTS = ("jobledger.store.reader", "jobledger.store.processes", "jobledger.store.sqlite_lock")
DOMAIN_BANNED = frozenset(
    {"eventsourcing", "sqlite3", "psycopg", "sqlite_utils", "subprocess", "socket", "click"}
)
DOMAIN_LIBRARIES = frozenset({"msgspec", "croniter"})


class Import(NamedTuple):
    """One module named by an import statement of a product module."""

    source: str
    target: str
    where: str


Graph: TypeAlias = dict[str, list[Import]]
Checker: TypeAlias = Callable[[Graph], list[Import]]
Rule: TypeAlias = Callable[[Import], bool]


def installed_rooms() -> dict[str, str]:
    """The rooms pyproject's [tool.setuptools] package-dir installs, as room -> folder."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        mapping: dict[str, str] = tomllib.load(file)["tool"]["setuptools"]["package-dir"]
    return {package.removeprefix("jobledger."): folder for package, folder in mapping.items()}


def targets(node: ast.Import | ast.ImportFrom, package: str, modules: Collection[str]) -> list[str]:
    """The full names one statement imports: `from pkg import name` is pkg.name if that is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        base = ".".join([*parts[: max(0, len(parts) - node.level + 1)], *filter(None, [node.module])])
    names = (f"{base}.{alias.name}" for alias in node.names)
    return list(dict.fromkeys(name if name in modules else base for name in names))


def build_graph(root: Path, rooms: dict[str, str]) -> Graph:
    """Every module of the rooms -> the imports anywhere in its source (functions and TYPE_CHECKING too)."""
    files: dict[str, Path] = {}
    for room, folder in rooms.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            files[".".join(["jobledger", room, *parts]).removesuffix(".__init__")] = path
    graph: Graph = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_bytes(), str(path))
        nodes = sorted(
            (n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)), key=lambda n: n.lineno
        )
        graph[module] = [
            Import(module, target, f"{path.relative_to(root)}:{node.lineno}")
            for node in nodes
            for target in targets(node, package, files)
        ]
    return graph


def room_of(module: str) -> str | None:
    """The room a jobledger module belongs to, or None outside jobledger."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jobledger" and len(parts) > 1 else None


def owner(target: str, modules: Collection[str]) -> str | None:
    """The product module an import names: the longest prefix of it that is a module, if any."""
    parts = target.split(".")
    return next((m for end in range(len(parts), 0, -1) if (m := ".".join(parts[:end])) in modules), None)


def offences(bad: Rule) -> Checker:
    """A checker reporting the imports of a graph that break a rule."""
    return lambda graph: [i for module in sorted(graph) for i in graph[module] if bad(i)]


def crosses_rooms(i: Import) -> bool:
    """Whether it imports a room the importer may not, or a private module where only public ones may be."""
    source, target = room_of(i.source), room_of(i.target)
    if source is None or target is None or source == target:
        return False
    private = any(part.startswith("_") for part in i.target.split(".")[2:])
    return target not in RULES.get(source, ()) or (private and target in PUBLIC_ONLY.get(source, ()))


def domain_library(i: Import) -> bool:
    """Whether domain imports anything but jobledger, msgspec, croniter and the stdlib less DOMAIN_BANNED."""
    top = i.target.split(".")[0]
    allowed = top == "jobledger" or top in DOMAIN_LIBRARIES or top in sys.stdlib_module_names
    return room_of(i.source) == "domain" and (top in DOMAIN_BANNED or not allowed)


def store_internals(i: Import) -> bool:
    """Whether projections import a store module other than the reader port and the process plumbing."""
    port = any(i.target == p or i.target.startswith(f"{p}.") for p in STORE_PORTS)
    return room_of(i.source) == "projections" and room_of(i.target) == "store" and not port


def imports_cli(i: Import) -> bool:
    """Whether a module outside cli imports cli."""
    return room_of(i.target) == "cli" and room_of(i.source) != "cli"


@cache
def foreign_module(top: str) -> bool:
    """Whether a top-level name is a tests/ or bench/ file or folder, not importable, or else in the repo."""
    files = [
        p
        for folder in ("tests", "bench")
        for p in (ROOT / folder).rglob("*")
        if p.suffix == ".py" or p.is_dir()
    ]
    if top in {"tests", "bench"} or top in {p.stem for p in files} - set(sys.stdlib_module_names):
        return True
    if top == "jobledger" or top in sys.stdlib_module_names:
        return False
    spec = importlib.util.find_spec(top)
    places = (
        [Path(p).resolve() for p in (spec.submodule_search_locations or [spec.origin or ""])] if spec else []
    )
    return not places or any(p.is_relative_to(ROOT) and not p.is_relative_to(sys.prefix) for p in places)


def foreign(i: Import) -> bool:
    """Whether it imports bench, tests or their helpers (anything not jobledger, stdlib or installed)."""
    return room_of(i.target) is None and foreign_module(i.target.split(".")[0])


def module_edges(graph: Graph) -> dict[str, set[str]]:
    """Module -> the other product modules it imports."""
    # Imports of a package's own __init__ by its submodules are kept, not ignored: only the named module
    # counts (not the parent packages Python runs on the way), so they make no false cycle; the __init__
    # files hold docstrings only, and one that re-exported a submodule importing it back is a real cycle.
    edges = {m: {owner(i.target, graph) for i in found} - {None, m} for m, found in graph.items()}
    return {m: {o for o in found if o is not None} for m, found in edges.items()}


def mutual_offences(graph: Graph) -> list[Import]:
    """Imports of a module by a module it imports back directly."""
    edges = module_edges(graph)
    return offences(lambda i: i.source in edges.get(owner(i.target, graph) or "", ()))(graph)


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan's algorithm)."""
    edges, index, low, stack = module_edges(graph), dict[str, int](), dict[str, int](), list[str]()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
            if nxt in stack:
                low[node] = min(low[node], low[nxt])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            found.extend([sorted(component)] if len(component) > 1 else [])

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def cycle_offences(graph: Graph) -> list[Import]:
    """Imports that join two modules of one import cycle."""
    component = {module: tuple(c) for c in cycles(graph) for module in c}
    return offences(lambda i: owner(i.target, graph) in component.get(i.source, ()))(graph)


@cache
def real_graph() -> Graph:
    """The import graph of the installed rooms and the table's rooms whose folder exists."""
    rooms = {room: room for room in RULES} | installed_rooms()
    return build_graph(ROOT, {room: folder for room, folder in rooms.items() if (ROOT / folder).is_dir()})


def test_every_installed_room_has_a_rule() -> None:
    """A room pyproject installs must be in the rule table."""
    missing = sorted(set(installed_rooms()) - set(RULES))
    assert not missing, f"rooms in pyproject's package-dir but not in RULES of {__name__}: {missing}"


def test_every_room_folder_exists_and_is_installed() -> None:
    """Each installed room has its folder, and each table room's folder is installed."""
    installed = installed_rooms()
    problems = [f"jobledger.{r} -> {f}/ is missing" for r, f in installed.items() if not (ROOT / f).is_dir()]
    problems += [f"{r}/ is not in package-dir" for r in RULES if r not in installed and (ROOT / r).is_dir()]
    assert not problems, "pyproject's package-dir and the room folders disagree:\n  " + "\n  ".join(problems)


CHECKERS: dict[str, tuple[str, Checker]] = {
    "rooms": ("a room imports a room the table does not allow", offences(crosses_rooms)),
    "domain": (
        "domain imports a library beyond the stdlib (less I/O), msgspec, croniter",
        offences(domain_library),
    ),
    "ports": ("projections import a store module other than reader and processes", offences(store_internals)),
    "cli": ("a module outside cli imports cli", offences(imports_cli)),
    "foreign": ("product code imports bench or tests modules", offences(foreign)),
    "mutual": ("two modules import each other", mutual_offences),
    "cycles": ("modules import in a cycle", cycle_offences),
}


@pytest.mark.parametrize("rule", CHECKERS)
def test_the_working_tree_keeps_the_rule(rule: str) -> None:
    """The rooms of the working tree keep the rule."""
    message, checker = CHECKERS[rule]
    found = checker(real_graph())
    assert not found, f"{message} ({len(found)}):\n  " + "\n  ".join(
        f"{i.where} -> {i.target}" for i in found
    )


def synthetic(spec: str) -> Graph:
    """A graph from "module > imports; ...", names of a room getting the jobledger. prefix."""

    def full(word: str) -> str:
        return f"jobledger.{word}" if word.split(".")[0] in RULES else word

    lines = [(full(m.strip()), ts.split()) for m, ts in (line.split(">") for line in spec.split(";"))]
    return {m: [Import(m, full(t), m) for t in ts] for m, ts in lines}


CLEAN = "domain.job > msgspec domain.errors; domain.errors > datetime; store.reader > domain.job domain"
CASES = (
    """\
rooms | domain.job > store.reader cli.main json; store.reader > domain.job | store.reader cli.main
rooms | web.app > server._auth server.api projections.queries store.reader | server._auth store.reader
rooms | demo.day > domain.commands service.ledger projections.queries | projections.queries
domain | domain.job > eventsourcing.persistence msgspec json socket | eventsourcing.persistence socket
ports | projections.runner > store.reader store.processes store.appender store | store.appender store
cli | service.ledger > cli.main; cli.jobs > cli.main | cli.main
foreign | service.x > samples json tests.x bench.append msgspec | samples tests.x bench.append
mutual | domain.batch > domain.ledger; domain.ledger > domain.batch.Batch | domain.ledger domain.batch.Batch
mutual | domain.a > domain.b; domain.b > domain.c; domain.c > domain.a |
cycles | domain.a > domain.b; domain.b > domain.c; domain.c > domain.a domain.d | domain.b domain.c domain.a
""".splitlines()
    + [f"{rule} | {CLEAN} |" for rule in CHECKERS]
)


@pytest.mark.parametrize("case", CASES, ids=[f"{case.split()[0]}-{n}" for n, case in enumerate(CASES)])
def test_a_checker_reports_exactly_the_offending_imports(case: str) -> None:
    """On a synthetic graph "rule | graph | expected", a checker reports the expected imports, no others."""
    rule, spec, expected = (part.strip() for part in case.split("|"))
    found = CHECKERS[rule][1](synthetic(spec))
    assert [i.target.removeprefix("jobledger.") for i in found] == expected.split()


@pytest.mark.parametrize(
    ("top", "is_foreign"),
    [(top, False) for top in ("json", "msgspec", "croniter")]
    + [(top, True) for top in ("samples", "conftest", "bench", "no_such_module", "domain")],
)
def test_foreign_module_tells_installed_modules_from_repository_files(top: str, is_foreign: bool) -> None:
    """Stdlib and installed packages pass; test helpers, bench, bare room folders and unknown names do not."""
    assert foreign_module(top) is is_foreign


def test_the_parser_resolves_relative_nested_and_type_checking_imports(tmp_path: Path) -> None:
    """Relative imports become full names, and imports in functions and TYPE_CHECKING blocks count."""
    (tmp_path / "dom" / "sub").mkdir(parents=True)
    for name, source in {
        "__init__": "from . import job\n",
        "errors": "",
        "job": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .errors import E\n"
        "def f() -> None:\n    from . import errors, X\n    import eventsourcing.persistence\n",
        "sub/deep": "from ..job import f\nfrom .. import errors\nfrom ... import store\n",
    }.items():
        (tmp_path / "dom" / f"{name}.py").write_text(source)
    graph = build_graph(tmp_path, {"dom": "dom"})
    assert {m: [f"{i.where.rpartition(':')[2]} {i.target}" for i in found] for m, found in graph.items()} == {
        "jobledger.dom": ["1 jobledger.dom.job"],
        "jobledger.dom.errors": [],
        "jobledger.dom.job": [
            "1 typing",
            "3 jobledger.dom.errors",
            "5 jobledger.dom.errors",
            "5 jobledger.dom",
            "6 eventsourcing.persistence",
        ],
        "jobledger.dom.sub.deep": ["1 jobledger.dom.job", "2 jobledger.dom.errors", "3 jobledger"],
    }
    assert cycles(graph) == [["jobledger.dom", "jobledger.dom.job"]]
