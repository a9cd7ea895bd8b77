"""Tables on the console and results files (markdown and CSV), shared by every benchmark script."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.console import Console
from rich.table import Table


def show(
    console: Console, title: str, rows: list[dict[str, str]], *, left: tuple[str, ...] = ("step", "operation", "check")
) -> None:
    """A rich table of `rows` (columns: the first row's keys; `left` ones left-aligned, the others right)."""
    if not rows:
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="left" if column in left else "right")
    for row in rows:
        table.add_row(*(row.get(column, "") for column in rows[0]))
    console.print(table)


def markdown_table(rows: list[dict[str, str]]) -> list[str]:
    if not rows:
        return []
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows]


def show_summary(
    console: Console, title: str, rows: list[dict[str, str]], facts: dict[str, str], checks: list[str], *, left: str
) -> None:
    """The table, then the facts and the check lines."""
    show(console, title, rows, left=(left,))
    for key, value in facts.items():
        console.print(f"[bold]{key}[/]: {value}")
    for line in checks:
        console.print(line)


def save_single(
    results: Path,
    name: str,
    *,
    title: str,
    facts: dict[str, str],
    rows: list[dict[str, str]],
    checks: list[str],
    note: str,
    stamp: tuple[str, ...] = ("date", "commit"),
) -> None:
    """results/<name>.csv (the `stamp` facts, then the row) and results/<name>.md (facts, the table, checks, note)."""
    results.mkdir(exist_ok=True)
    with (results / f"{name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*stamp, *rows[0]])
        writer.writeheader()
        extra = {key: facts[key] for key in stamp}
        writer.writerows(extra | row for row in rows)
    lines = [f"# {title}", ""]
    lines += [f"* **{key}**: {value}" for key, value in facts.items()]
    lines += ["", *markdown_table(rows)]
    lines += ["", *[f"* {line}" for line in checks], ""]
    lines += [note, ""]
    (results / f"{name}.md").write_text("\n".join(lines))
