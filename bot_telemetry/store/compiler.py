"""Queries are written once, in DuckDB SQL over the logical relations; this makes each
engine's SQL from them.

    compiled = compile_query(sql, "clickhouse", definitions, {"start": "Int64"})

What it does, with SQLGlot (parse DuckDB SQL, rewrite the tree, generate the target dialect):

* puts each engine's definition of a logical relation (``store.model``) in place of its
  name, as a subquery under the same alias; an engine may leave out costly columns a query
  never names (DuckDB joins the resources table only for ``resource_attributes``);
* expands our macros: ``attr(attributes, 'key')`` is one attribute's value as text, NULL when
  absent or empty (``nullif(json_extract_string(...), '')`` on DuckDB, ``nullIf(m['key'],
  '')`` on ClickHouse, whose maps give ``''`` for a missing key);
* ``$name`` parameters stay as they are on DuckDB and become ``{name:Type}`` on ClickHouse,
  the type taken from the value passed;
* on ClickHouse, rewrites what SQLGlot's own dialect gets wrong or subtly different
  (``ClickHouseDialect`` below), and appends the settings that give DuckDB's NULL semantics.

See docs/analytics-model.md for the rules a query follows to run the same on both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import SqlglotError
from sqlglot.generator import Generator
from sqlglot.generators.clickhouse import ClickHouseGenerator

from . import vocabulary
from .model import RELATIONS

Dialect = Literal["duckdb", "clickhouse"]

#: An engine's definition of one logical relation: the SELECT that produces its columns,
#: given the column names the query mentions (None: it may use any, e.g. ``SELECT *``).
Definition = Callable[[frozenset[str] | None], str]

#: Settings every ClickHouse query runs with, so results match DuckDB's:
#: an unmatched LEFT JOIN side is NULL (not '' or 0); min/max/avg of no rows is NULL (not 0);
#: a column a GROUPING SETS/ROLLUP/CUBE row does not group by is NULL (not its type's default).
CLICKHOUSE_SETTINGS = {
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "group_by_use_nulls": 1,
}

_ATTRIBUTE_KEY = re.compile(r"^[^\"\\']+$")


class QueryError(Exception):
    """A query the compiler cannot translate; the message says what to change."""


@dataclass(frozen=True)
class Compiled:
    sql: str
    #: The ``$name`` parameters the query uses, in order of first use.
    parameters: tuple[str, ...]


# --- ClickHouse rewrites ---------------------------------------------------------------


def _quantile(self: Generator, node: exp.Expression) -> str:
    # DuckDB's quantile_cont interpolates like ClickHouse's quantileExactInclusive exactly;
    # ClickHouse's plain quantile() samples.
    level = node.args.get("expression") or node.args.get("quantile")
    value = self.sql(node, "this")
    if isinstance(level, exp.Array):
        levels = ", ".join(self.sql(q) for q in level.expressions)
        return f"quantilesExactInclusive({levels})({value})"
    return f"quantileExactInclusive({self.sql(level)})({value})"


def _sorted_values(self: Generator, target: exp.Expression) -> str:
    """groupArray with DuckDB's DISTINCT and ORDER BY (ClickHouse aggregates take no ORDER
    BY): gather (keys, value) tuples, sort them, keep the values. Like DuckDB's list() of a
    non-NULL column; ClickHouse leaves NULLs out."""
    order = target if isinstance(target, exp.Order) else None
    value = order.this if order is not None else target
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value = value.expressions[0]
    gather = "groupUniqArray" if distinct else "groupArray"
    if order is None:
        return f"{gather}({self.sql(value)})"
    keys = ", ".join(
        f"-({self.sql(k, 'this')})" if k.args.get("desc") else self.sql(k, "this")
        for k in order.expressions
    )
    return (
        f"arrayMap(pair -> pair.2, arraySort(pair -> pair.1, "
        f"{gather}(tuple(tuple({keys}), {self.sql(value)}))))"
    )


def _array_agg(self: Generator, node: exp.ArrayAgg) -> str:
    return _sorted_values(self, node.this)


def _group_concat(self: Generator, node: exp.GroupConcat) -> str:
    separator = self.sql(node, "separator") or "','"
    return f"arrayStringConcat({_sorted_values(self, node.this)}, {separator})"


def _first(self: Generator, node: exp.First) -> str:
    # first(x ORDER BY a, b) -> the x of the smallest (a, b). Without ORDER BY DuckDB's
    # first() is any row's, like any().
    target = node.this
    if isinstance(target, exp.Order):
        keys = ", ".join(
            f"-({self.sql(k, 'this')})" if k.args.get("desc") else self.sql(k, "this")
            for k in target.expressions
        )
        return f"argMin({self.sql(target, 'this')}, tuple({keys}))"
    return f"any({self.sql(target)})"


def _int_div(self: Generator, node: exp.IntDiv) -> str:
    # SQLGlot's ClickHouse form is a float division cast back to an integer: nanosecond
    # times (~1.7e18) lose their last bits in a double, so a time on a bucket's edge could
    # fall into the bucket before. intDiv truncates toward zero, as DuckDB's // does.
    return f"intDiv({self.sql(node, 'this')}, {self.sql(node, 'expression')})"


def _try_cast(self: Generator, node: exp.TryCast) -> str:
    # SQLGlot makes TRY_CAST a plain CAST to a Nullable type, which raises on text that is
    # not a number; DuckDB's TRY_CAST gives NULL, as accurateCastOrNull does.
    target = self.sql(node, "to")
    if target.startswith("Nullable(") and target.endswith(")"):
        target = target[len("Nullable(") : -1]
    return f"accurateCastOrNull({self.sql(node, 'this')}, '{target}')"


def _window_shift(name: str) -> Callable[[Generator, exp.Expression], str]:
    # lagInFrame/leadInFrame give the type's default for a missing neighbour; on a Nullable
    # argument that default is NULL, as DuckDB's lag/lead give.
    def render(self: Generator, node: exp.Expression) -> str:
        arguments = [f"toNullable({self.sql(node, 'this')})"]
        for key in ("offset", "default"):
            if node.args.get(key) is not None:
                arguments.append(self.sql(node, key))
        return f"{name}({', '.join(arguments)})"

    return render


class ClickHouseDialect(ClickHouse):
    """SQLGlot's ClickHouse dialect with the rewrites DuckDB SQL needs to mean the same."""

    class Generator(ClickHouseGenerator):
        TRANSFORMS = {
            **ClickHouseGenerator.TRANSFORMS,
            exp.PercentileCont: _quantile,
            exp.ArrayAgg: _array_agg,
            exp.GroupConcat: _group_concat,
            exp.First: _first,
            exp.LogicalOr: lambda self, e: f"(max(toUInt8({self.sql(e, 'this')})) = 1)",
            exp.LogicalAnd: lambda self, e: f"(min(toUInt8({self.sql(e, 'this')})) = 1)",
            exp.Length: lambda self, e: f"length({self.sql(e, 'this')})",
            exp.IntDiv: _int_div,
            exp.TryCast: _try_cast,
            exp.Lag: _window_shift("lagInFrame"),
            exp.Lead: _window_shift("leadInFrame"),
        }


def _whole_frame(node: exp.Expression) -> exp.Expression:
    """lagInFrame/leadInFrame see only their frame: give them the whole partition."""
    if (
        isinstance(node, exp.Window)
        and isinstance(node.this, exp.Lag | exp.Lead)
        and not node.args.get("spec")
    ):
        node.set(
            "spec",
            exp.WindowSpec(
                kind="ROWS",
                start="UNBOUNDED",
                start_side="PRECEDING",
                end="UNBOUNDED",
                end_side="FOLLOWING",
            ),
        )
    return node


# --- macros ----------------------------------------------------------------------------


def _attribute_key(node: exp.Anonymous) -> tuple[exp.Expression, str]:
    arguments = node.expressions
    if len(arguments) != 2 or not (
        isinstance(arguments[1], exp.Literal) and arguments[1].is_string
    ):
        raise QueryError("attr() takes an attributes column and a literal key: attr(a, 'key')")
    key = arguments[1].name
    if not _ATTRIBUTE_KEY.match(key):
        raise QueryError(f"attr() key {key!r} may not be empty or hold quotes or backslashes")
    return arguments[0], key


def _vocabulary(node: exp.Anonymous, name: str) -> exp.Expression:
    """``is_fallback(name, attributes)``: the vocabulary's definition (store.vocabulary) over
    those expressions, still to be expanded (it uses attr())."""
    arguments = node.expressions
    if len(arguments) != 2:
        raise QueryError(f"{name}() takes an event's name and attributes: {name}(name, attributes)")
    text = vocabulary.MACROS[name](*(argument.sql(dialect="duckdb") for argument in arguments))
    parsed = sqlglot.parse_one(text, read="duckdb")
    if not isinstance(parsed, exp.Expression):
        raise QueryError(f"{name}() is not an expression")
    return parsed


def _attribute_keys(node: exp.Anonymous) -> tuple[exp.Expression, list[str]]:
    arguments = node.expressions
    keys = arguments[1:]
    if len(arguments) < 2 or not all(isinstance(k, exp.Literal) and k.is_string for k in keys):
        raise QueryError("attrs() takes an attributes column and literal keys: attrs(a, 'k', 'l')")
    names = [key.name for key in keys]
    for name in names:
        if not _ATTRIBUTE_KEY.match(name):
            raise QueryError(f"attrs() key {name!r} may not be empty or hold quotes or backslashes")
    return arguments[0], names


def _expand_macros(dialect: Dialect) -> Callable[[exp.Expression], exp.Expression]:
    def expand(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in vocabulary.MACROS:
            expanded: exp.Expression = _vocabulary(node, str(node.this).lower()).transform(
                expand, copy=False
            )
            return expanded
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "attrs":
            # Many keys read at once: DuckDB parses the JSON once for all of them (one
            # json_extract_string per key parses it again each time).
            column, keys = _attribute_keys(node)
            if dialect == "duckdb":
                paths = exp.Array(expressions=[exp.Literal.string(f'$."{k}"') for k in keys])
                return exp.Anonymous(this="json_extract_string", expressions=[column, paths])
            return exp.Array(
                expressions=[
                    exp.Bracket(this=column.copy(), expressions=[exp.Literal.string(k)])
                    for k in keys
                ]
            )
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "attr":
            column, key = _attribute_key(node)
            if dialect == "duckdb":
                value: exp.Expression = exp.Anonymous(
                    this="json_extract_string",
                    expressions=[column, exp.Literal.string(f'$."{key}"')],
                )
            else:
                value = exp.Bracket(this=column, expressions=[exp.Literal.string(key)])
            return exp.Nullif(this=value, expression=exp.Literal.string(""))
        return node

    return expand


# --- parameters ------------------------------------------------------------------------


def _parameter_name(node: exp.Expression) -> str:
    name = node.name
    if not name or name == "?" or name.isdigit():
        raise QueryError("use $name parameters: ClickHouse has no positional ones")
    return name


def _mentioned_columns(tree: exp.Expr, relations: set[str]) -> frozenset[str] | None:
    """Every column name the query mentions, or None if it selects ``*`` from one of the
    ``relations`` (a ``*`` over a CTE or a subquery takes only what they select)."""
    for star in tree.find_all(exp.Star):
        if isinstance(star.parent, exp.Count):
            continue
        select = star.find_ancestor(exp.Select)
        if select is None:
            return None
        found = select.args.get("from_") or select.args.get("from")  # (sqlglot renamed it)
        sources = [found, *(select.args.get("joins") or [])]
        for source in sources:
            if source is not None and isinstance(source.this, exp.Table):
                if source.this.name in relations:
                    return None
    return frozenset(column.name for column in tree.find_all(exp.Column))


def _check_aliases(tree: exp.Expr) -> None:
    """An output name may not be a logical column's name (unless it is that column):
    ClickHouse lets an alias shadow a column everywhere in its SELECT (``min(start_ns) AS
    start_ns, max(end_ns) - min(start_ns)`` nests aggregates there) where DuckDB does not."""
    used = {table.name for table in tree.find_all(exp.Table)}
    columns = {
        column for name in used if name in RELATIONS for column in RELATIONS[name].column_names
    }
    for alias in tree.find_all(exp.Alias):
        if alias.alias in columns and not (
            isinstance(alias.this, exp.Column) and alias.this.name == alias.alias
        ):
            raise QueryError(
                f"the output name {alias.alias!r} is also a column's: choose another "
                "(ClickHouse would read the column as the alias)"
            )


def translate_expression(text: str, dialect: Dialect) -> str:
    """One SQL expression (DuckDB SQL with our macros) in ``dialect``: how a relation's
    definition uses the vocabulary (store.vocabulary) on each engine."""
    tree = sqlglot.parse_one(text, read="duckdb").transform(_expand_macros(dialect), copy=False)
    return tree.sql(dialect="duckdb" if dialect == "duckdb" else ClickHouseDialect, copy=False)


def _is_true(node: exp.Expression) -> bool:
    return isinstance(node, exp.Boolean) and bool(node.this)


def _fold(node: exp.Expression) -> exp.Expression:
    """One step of folding what a NULL parameter makes constant: ``NULL IS NULL`` is true,
    ``true OR x`` is true, ``x AND true`` is x, a condition that is true goes."""
    if isinstance(node, exp.Is) and isinstance(node.this, exp.Null):
        if isinstance(node.expression, exp.Null):
            return exp.true()
    if isinstance(node, exp.Paren) and isinstance(node.this, exp.Boolean):
        return node.this
    if isinstance(node, exp.Or) and (_is_true(node.this) or _is_true(node.expression)):
        return exp.true()
    if isinstance(node, exp.And):
        left: exp.Expression = node.this
        right: exp.Expression = node.expression
        if _is_true(left):
            return right
        if _is_true(right):
            return left
    if isinstance(node, exp.Where | exp.Having) and _is_true(node.this):
        return exp.Null()  # removed below: a clause cannot be dropped from inside itself
    return node


def _fold_null_parameters(tree: exp.Expr, nulls: frozenset[str]) -> exp.Expr:
    """Inline ``$name`` parameters whose value is NULL and fold the conditions that become
    constant, so an optional filter written ``($x IS NULL OR column = $x)`` costs nothing when
    it is not used (neither engine folds a parameter: the filter's subqueries would run)."""
    tree = tree.transform(
        lambda node: (
            exp.Null()
            if isinstance(node, exp.Placeholder | exp.Parameter) and node.name in nulls
            else node
        ),
        copy=False,
    )
    for _ in range(32):  # to a fixed point; each pass folds one level
        before = tree.sql()
        tree = tree.transform(_fold, copy=False)
        for clause in list(tree.find_all(exp.Where, exp.Having)):
            if isinstance(clause.this, exp.Null) and clause.parent is not None:
                clause.pop()
        for select in tree.find_all(exp.Select):
            for key in ("where", "having"):
                found = select.args.get(key)
                if isinstance(found, exp.Null):
                    select.set(key, None)
        if tree.sql() == before:
            break
    return tree


def compile_query(
    sql: str,
    dialect: Dialect,
    definitions: Mapping[str, Definition],
    parameter_types: Mapping[str, str] | None = None,
    null_parameters: frozenset[str] = frozenset(),
) -> Compiled:
    """``sql`` (DuckDB SQL over the logical relations) as ``dialect`` SQL over the engine's
    tables. ``parameter_types`` gives ClickHouse's type of each ``$name`` parameter;
    ``null_parameters`` names those whose value is NULL (inlined, see
    ``_fold_null_parameters``)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as error:
        raise QueryError(f"cannot parse the query: {error}") from error
    _check_aliases(tree)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    mentioned = _mentioned_columns(
        tree, {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}
    )
    # In place (copy=False), here and when the SQL is written: the tree is this call's own,
    # parsed above, and copying it at each pass was a third of a query's compile time.
    tree = tree.transform(_expand_macros(dialect), copy=False)
    if null_parameters:
        tree = _fold_null_parameters(tree, null_parameters)

    markers: dict[str, str] = {}
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if table.args.get("db") or name in ctes or name not in definitions:
            continue
        marker = f"__relation_{name}__"
        markers[marker] = definitions[name](mentioned)
        alias = table.alias_or_name
        table.replace(
            exp.Table(
                this=exp.to_identifier(marker), alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
        )

    names: list[str] = []
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        name = _parameter_name(node)
        if name not in names:
            names.append(name)

    if dialect == "duckdb":
        text = tree.sql(dialect="duckdb", copy=False)
    else:
        types = parameter_types or {}

        def parameter(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder | exp.Parameter):
                name = _parameter_name(node)
                if name not in types:
                    raise QueryError(f"no value for the parameter ${name}")
                return exp.Var(this=f"{{{name}:{types[name]}}}")
            return node

        tree = tree.transform(_whole_frame, copy=False).transform(parameter, copy=False)
        chosen = dict(CLICKHOUSE_SETTINGS)
        if any(cte.args.get("materialized") for cte in tree.find_all(exp.CTE)):
            # WITH x AS MATERIALIZED: computed once, not again at every reference (an
            # experimental ClickHouse feature, off unless asked for).
            chosen["enable_materialized_cte"] = 1
        settings = ", ".join(f"{key} = {value}" for key, value in chosen.items())
        text = f"{tree.sql(dialect=ClickHouseDialect, copy=False)} SETTINGS {settings}"
    for marker, definition in markers.items():
        text = text.replace(marker, f"({definition})")
    return Compiled(text, tuple(names))


def bound(compiled: Compiled, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the parameters ``compiled`` uses; a missing one is a QueryError."""
    missing = [name for name in compiled.parameters if name not in values]
    if missing:
        raise QueryError(f"no value for the parameter(s) {', '.join('$' + m for m in missing)}")
    return {name: values[name] for name in compiled.parameters}
