"""Plan files: reading a YAML or XLSX plan into rows that know where they came from (a YAML
line, an XLSX sheet and row), checking them all before anything is written, and writing the
plan back out in either format.

Format choices:

* YAML is nested (axes → objectives → actions and indicators; an action's milestones and
  ``depends_on`` codes; an indicator's ``baseline``, ``source`` and ``targets`` by year). It
  is read with PyYAML's safe composer only; anchors and aliases are refused (they would let a
  small file expand into a huge plan).
* XLSX has one sheet per entity kind (``axes``, ``objectives``, ``actions``, ``milestones``,
  ``dependencies``, ``indicators``, ``targets``), headers in row 1, parents referenced by
  code; partners are separated by ``;``. Cells are written as text, never as formulas.
* Every problem carries its place (``line``, or ``sheet`` and ``row``); the checks cover
  the fields, duplicate codes, unknown references and acronyms, target years outside
  2026–2030 and dependency cycles (with the cycle's path).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]
from pydantic import BaseModel, ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lakana.core.errors import Invalid, TooLarge
from lakana.core.i18n import N_
from lakana.core.web.errors import validation_message
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR, ROW_MODELS

MAX_BYTES = 2 * 1024 * 1024
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The columns of each XLSX sheet, in order (the YAML keys once flattened).
COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(model.model_fields) for kind, model in ROW_MODELS.items()}
#: The kinds that have their own code, and the field naming their parent's code.
PARENTS = {"objectives": ("axis", "axes"), "actions": ("objective", "objectives"),
           "milestones": ("action", "actions"), "indicators": ("objective", "objectives"),
           "targets": ("indicator", "indicators")}
CODED = ("axes", "objectives", "actions", "milestones", "indicators")


@dataclass
class Record:
    """One entity read from a file, with where it was read."""

    kind: str
    where: dict[str, Any]
    data: dict[str, Any]
    row: Any = None


@dataclass
class Problems:
    """Problems found so far, each with its place in the file."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, where: dict[str, Any], message: str, **params: Any) -> None:
        """Note a problem at ``where``."""
        self.items.append({**where, "message": message,
                           "params": {k: str(v) for k, v in params.items()}})

    def raise_if_any(self) -> None:
        """Refuse the whole file when anything was found."""
        if self.items:
            raise Invalid("The plan was not imported and nothing was written. Problems "
                          "found: %(count)s.", count=len(self.items), errors=self.items)


def describe(item: dict[str, Any]) -> str:
    """Where a problem lies, in English (for the command line)."""
    if "line" in item:
        return f"line {item['line']}"
    if "sheet" in item:
        return f"sheet {item['sheet']}, row {item['row']}"
    return "file"


# --- YAML ---------------------------------------------------------------------------------

class _Reader:
    """Walks the composed YAML nodes, keeping each entity's line."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.records: list[Record] = []
        self.seen: set[int] = set()
        self.scalars = SafeConstructor()

    @staticmethod
    def where(node: Node) -> dict[str, Any]:
        return {"line": node.start_mark.line + 1}

    def visit(self, node: Node) -> bool:
        if id(node) in self.seen:
            self.problems.add(self.where(node), N_("Anchors and aliases are not allowed."))
            return False
        self.seen.add(id(node))
        return True

    def scalar(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalars.construct_object(node)
        self.problems.add(self.where(node), N_("Expected a single value here."))
        return None

    def mapping(self, node: Node) -> list[tuple[Any, Node, Node]]:
        if not self.visit(node):
            return []
        if not isinstance(node, MappingNode):
            self.problems.add(self.where(node), N_("Expected a mapping (key: value) here."))
            return []
        return [(self.scalar(k), k, v) for k, v in node.value]

    def sequence(self, node: Node) -> list[Node]:
        if not self.visit(node):
            return []
        if isinstance(node, ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, SequenceNode):
            self.problems.add(self.where(node), N_("Expected a list here."))
            return []
        return list(node.value)

    def entity(self, kind: str, node: Node, parent: dict[str, Any],
               nested: dict[str, Callable[[str, Node], None]]) -> str:
        """Read one entity: its own scalars, then its nested parts (by key)."""
        data: dict[str, Any] = dict(parent)
        children: list[tuple[str, Node]] = []
        for key, _k, value in self.mapping(node):
            if key in nested:
                children.append((str(key), value))
            elif key in data:
                self.problems.add(self.where(_k), N_("The key %(key)s is not allowed here."),
                                  key=key)
            else:
                data[str(key)] = self.scalar(value) if self.visit(value) else None
        self.records.append(Record(kind, self.where(node), data))
        code = str(data.get("code") or "")
        for key, value in children:
            nested[key](code, value)
        return code

    def plan(self, root: Node) -> None:
        for key, knode, value in self.mapping(root):
            if key == "axes":
                for axis in self.sequence(value):
                    self.entity("axes", axis, {}, {"objectives": self.objectives})
            elif key != "plan":
                self.problems.add(self.where(knode), N_("The key %(key)s is not allowed here."),
                                  key=key)

    def objectives(self, axis: str, node: Node) -> None:
        for item in self.sequence(node):
            self.entity("objectives", item, {"axis": axis},
                        {"actions": self.actions, "indicators": self.indicators})

    def actions(self, objective: str, node: Node) -> None:
        for item in self.sequence(node):
            self.entity("actions", item, {"objective": objective},
                        {"milestones": self.milestones, "depends_on": self.dependencies,
                         "partners": self.partners})

    def partners(self, action: str, node: Node) -> None:
        found = [self.scalar(item) for item in self.sequence(node)]
        record = next(r for r in reversed(self.records) if r.kind == "actions")
        record.data["partners"] = [str(p) for p in found if p is not None]

    def milestones(self, action: str, node: Node) -> None:
        for item in self.sequence(node):
            self.entity("milestones", item, {"action": action}, {})

    def dependencies(self, action: str, node: Node) -> None:
        for item in self.sequence(node):
            self.records.append(Record("dependencies", self.where(item),
                                       {"action": action, "depends_on": self.scalar(item)}))

    def indicators(self, objective: str, node: Node) -> None:
        for item in self.sequence(node):
            self.entity("indicators", item, {"objective": objective},
                        {"baseline": self.pair("baseline"), "source": self.pair("source"),
                         "targets": self.targets})

    def pair(self, prefix: str) -> Callable[[str, Node], None]:
        def read(_code: str, node: Node) -> None:
            record = next(r for r in reversed(self.records) if r.kind == "indicators")
            for key, _knode, value in self.mapping(node):
                record.data[f"{prefix}_{key}"] = self.scalar(value)
        return read

    def targets(self, indicator: str, node: Node) -> None:
        for year, knode, value in self.mapping(node):
            self.records.append(Record("targets", self.where(knode), {
                "indicator": indicator, "year": year, "value": self.scalar(value)}))


def read_yaml(content: bytes) -> list[Record]:
    """The records of a YAML plan (refused with its line when not UTF-8 or not YAML)."""
    if len(content) > MAX_BYTES:
        raise TooLarge("The file is larger than %(limit)s bytes.", limit=MAX_BYTES)
    problems = Problems()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add({"line": content[:exc.start].count(b"\n") + 1},
                     N_("The file is not UTF-8 text (byte %(offset)s)."), offset=exc.start)
        text = ""
    problems.raise_if_any()
    try:
        root = yaml.compose(text.removeprefix("\ufeff"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.add({"line": mark.line + 1 if mark else 1},
                     N_("The file is not valid YAML: %(problem)s."),
                     problem=exc.problem or exc.context or "?")
        root = None
    except yaml.YAMLError as exc:
        problems.add({"line": 1}, N_("The file is not valid YAML: %(problem)s."),
                     problem=str(exc)[:200])
        root = None
    problems.raise_if_any()
    if root is None:
        raise Invalid("The file is empty.")
    reader = _Reader(problems)
    reader.plan(root)
    problems.raise_if_any()
    return reader.records


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_yaml(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    """The plan as nested YAML (``rows``: each kind's rows, in order, as in ROW_MODELS)."""
    def children(kind: str, parent: str, code: str) -> list[dict[str, Any]]:
        return [r for r in rows[kind] if r[parent] == code]

    axes = []
    for axis in rows["axes"]:
        objectives = []
        for objective in children("objectives", "axis", axis["code"]):
            actions = []
            for action in children("actions", "objective", objective["code"]):
                item = {k: v for k, v in action.items() if k != "objective"}
                item["depends_on"] = [d["depends_on"] for d in
                                      children("dependencies", "action", action["code"])]
                item["milestones"] = [{k: v for k, v in m.items() if k != "action"}
                                      for m in children("milestones", "action", action["code"])]
                actions.append(item)
            indicators = []
            for ind in children("indicators", "objective", objective["code"]):
                indicators.append({
                    "code": ind["code"], "name": ind["name"], "definition": ind["definition"],
                    "unit": ind["unit"],
                    "baseline": {"value": _plain(ind["baseline_value"]),
                                 "year": ind["baseline_year"]},
                    "source": {"kind": ind["source_kind"], "key": ind["source_key"]},
                    "frequency": ind["frequency"], "responsible": ind["responsible"],
                    "direction": ind["direction"], "gci_pillar": ind["gci_pillar"],
                    "targets": {t["year"]: _plain(t["value"]) for t in
                                children("targets", "indicator", ind["code"])}})
            objectives.append({"code": objective["code"], "title": objective["title"],
                               "description": objective["description"], "actions": actions,
                               "indicators": indicators})
        axes.append({**{k: v for k, v in axis.items()}, "objectives": objectives})
    text = yaml.safe_dump({"axes": axes}, sort_keys=False, allow_unicode=True, width=100)
    return text.encode("utf-8")


# --- XLSX ---------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet_records(kind: str, rows: list[list[str]], problems: Problems) -> list[Record]:
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    for index, name in enumerate(header):
        if name and name not in COLUMNS[kind]:
            problems.add({"sheet": kind, "row": 1},
                         N_("Unknown column %(column)s; the columns are: %(allowed)s."),
                         column=name, allowed=", ".join(COLUMNS[kind]))
        elif name and header.index(name) != index:
            problems.add({"sheet": kind, "row": 1},
                         N_("The column %(column)s appears more than once."), column=name)
    found = []
    for number, row in enumerate(rows[1:], start=2):
        data: dict[str, Any] = {name: value for name, value in zip(header, row, strict=False)
                                if name in COLUMNS[kind] and value != ""}
        if not data:
            continue
        if kind == "actions":
            data["partners"] = [p.strip() for p in str(data.get("partners", "")).replace(
                ",", ";").split(";") if p.strip()]
        found.append(Record(kind, {"sheet": kind, "row": number}, data))
    return found


def read_xlsx(content: bytes) -> list[Record]:
    """The records of an XLSX plan (one sheet per kind; unknown sheets are ignored)."""
    if len(content) > MAX_BYTES:
        raise TooLarge("The file is larger than %(limit)s bytes.", limit=MAX_BYTES)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on a damaged file
        raise Invalid("This is not a readable XLSX workbook.") from None
    problems = Problems()
    records: list[Record] = []
    try:
        for kind in ROW_MODELS:
            if kind in book.sheetnames:
                rows = [[_cell(v) for v in row]
                        for row in book[kind].iter_rows(values_only=True)]
                records += _sheet_records(kind, rows, problems)
    finally:
        book.close()
    if "axes" not in {r.kind for r in records} and not problems.items:
        raise Invalid("The workbook has no axes sheet (or it is empty).")
    problems.raise_if_any()
    return records


def write_xlsx(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    """The plan as an XLSX workbook, one sheet per kind, every cell as text."""
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for kind, columns in COLUMNS.items():
        sheet = book.create_sheet(kind)
        sheet.append(list(columns))
        for row in rows[kind]:
            sheet.append([_text(row[name]) for name in columns])
        for cells in sheet.iter_rows():
            for cell in cells:
                cell.data_type = "s"  # text, never a formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(_plain(value))


def read(content: bytes, filename: str = "") -> list[Record]:
    """The records of a plan file, XLSX (a ZIP) or YAML, told apart by their content."""
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return read_xlsx(content)
    return read_yaml(content)


# --- checks -------------------------------------------------------------------------------

def _fields(records: list[Record], problems: Problems) -> None:
    for record in records:
        model: type[BaseModel] = ROW_MODELS[record.kind]
        try:
            record.row = model.model_validate(record.data)
        except ValidationError as exc:
            for error in exc.errors():
                name = ".".join(str(p) for p in error.get("loc", ())) or record.kind
                problems.add(record.where, N_("%(field)s: %(problem)s"), field=name,
                             problem=validation_message(dict(error)))


def _codes(records: list[Record], problems: Problems) -> dict[str, set[str]]:
    codes: dict[str, set[str]] = {kind: set() for kind in CODED}
    pairs: set[tuple[str, str, str]] = set()
    for record in records:
        row = record.row
        if record.kind in CODED:
            if row.code in codes[record.kind]:
                problems.add(record.where, N_("The code %(code)s appears more than once."),
                             code=row.code)
            codes[record.kind].add(row.code)
        elif record.kind == "targets":
            key = ("targets", row.indicator, str(row.year))
            if key in pairs:
                problems.add(record.where, N_("The indicator %(code)s has two targets for "
                                              "%(year)s."), code=row.indicator, year=row.year)
            pairs.add(key)
        else:
            key = ("dependencies", row.action, row.depends_on)
            if key in pairs:
                problems.add(record.where, N_("The dependency of %(code)s on %(other)s "
                                              "appears more than once."),
                             code=row.action, other=row.depends_on)
            pairs.add(key)
    return codes


def _references(records: list[Record], codes: dict[str, set[str]],
                known_acronym: Callable[[str], bool], problems: Problems) -> None:
    for record in records:
        row = record.row
        names = [PARENTS[record.kind]] if record.kind in PARENTS else []
        if record.kind == "dependencies":
            names = [("action", "actions"), ("depends_on", "actions")]
        for name, kind in names:
            if getattr(row, name) not in codes[kind]:
                problems.add(record.where, N_("Unknown reference %(code)s (%(field)s)."),
                             code=getattr(row, name), field=name)
        if record.kind == "actions":
            for acronym in ([row.lead] if row.lead else []) + row.partners:
                if not known_acronym(acronym):
                    problems.add(record.where, N_("Unknown institution %(acronym)s: it is "
                                                  "not in the registry."), acronym=acronym)
            if row.ends_on < row.starts_on:
                problems.add(record.where, N_("The end date may not be before the start "
                                              "date."))
        if record.kind == "targets" and not FIRST_YEAR <= row.year <= LAST_YEAR:
            problems.add(record.where, N_("The target year %(year)s is outside the plan "
                                          "(%(first)s–%(last)s)."),
                         year=row.year, first=FIRST_YEAR, last=LAST_YEAR)


def _cycles(records: list[Record], problems: Problems) -> None:
    """Report each dependency cycle once, with its path, where its closing edge is written
    (a depth-first walk with an explicit stack: a long chain must not exhaust recursion)."""
    edges: dict[str, list[tuple[str, Record]]] = {}
    for record in records:
        if record.kind == "dependencies":
            edges.setdefault(record.row.action, []).append((record.row.depends_on, record))
    done: set[str] = set()
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        if start in done:
            continue
        path = [start]
        stack = [iter(edges.get(start, []))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                done.add(path.pop())
                stack.pop()
                continue
            target, record = step
            if target in path:
                cycle = [*path[path.index(target):], target]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    problems.add(record.where, N_("The dependencies form a cycle: %(path)s."),
                                 path=" → ".join(cycle))
            elif target not in done:
                path.append(target)
                stack.append(iter(edges.get(target, [])))


def check(records: list[Record], known_acronym: Callable[[str], bool]) -> None:
    """Refuse the records, with every problem and its place, unless all are sound."""
    problems = Problems()
    _fields(records, problems)
    problems.raise_if_any()
    codes = _codes(records, problems)
    _references(records, codes, known_acronym, problems)
    _cycles(records, problems)
    problems.raise_if_any()
