"""Render OUT/*/result.json as one self-contained HTML page (figures embedded as base64 PNG).

The report only reads results: it never runs or imports a task's code, so what
it shows is exactly what the runs stored.
"""

from __future__ import annotations

import base64
import html
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mnistlab import __version__
from mnistlab.errors import MnistlabError
from mnistlab.store import atomic_write_text, read_result

CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --rule:#d9dee7; --accent:#0b5fa5; --bg:#fbfcfe; }
* { box-sizing: border-box; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 2rem; margin: 0 0 .25rem; }
h2 { font-size: 1.45rem; margin: 3rem 0 .5rem; padding-top: 1rem; border-top: 2px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; color: var(--muted); }
p.meta, .meta { color: var(--muted); font-size: .9rem; }
nav ol { columns: 2; padding-left: 1.2rem; }
nav a, a { color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .9rem; }
caption { caption-side: top; text-align: left; color: var(--muted); padding: .3rem 0; font-size: .88rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef2f8; font-weight: 600; }
.tablewrap { overflow-x: auto; max-width: 100%; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); background: white; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .3rem; }
details { margin: .6rem 0; } summary { cursor: pointer; color: var(--muted); }
pre { background: #f1f4f9; padding: .6rem .8rem; overflow-x: auto; font-size: .82rem; }
.notrun { color: #a33; }
.ref td.published { color: #6a4c93; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return html.escape(str(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    return html.escape(str(value))


def _table(table: dict, table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table["columns"])
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in table["rows"])
    caption = f"<caption>{html.escape(table.get('caption', ''))}</caption>" if table.get("caption") else ""
    return (f'<div class="tablewrap"><table id="{html.escape(table_id)}">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _figure(folder: Path, fig: dict) -> str:
    path = folder / fig["file"]
    caption = html.escape(fig.get("caption", ""))
    if not path.is_file():
        return f'<p class="notrun">Figure {html.escape(fig["file"])} is missing.</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _references(refs: list[dict], metrics: dict) -> str:
    if not refs:
        return ('<p class="meta">No published reference numbers are recorded for this section: the published '
                "solutions of this assignment that we could find report none for it.</p>")
    rows = []
    for ref in refs:
        ours = metrics.get(ref.get("metric", ""))
        source = html.escape(ref["source"])
        if ref["source"].startswith("http"):
            source = f'<a href="{source}">{source}</a>'
        rows.append(f"<tr><td>{html.escape(ref['quantity'])}</td><td>{_fmt(ours) if ours is not None else '–'}"
                    f'</td><td class="published">{html.escape(ref["published"])}</td><td>{source}</td></tr>')
    return ('<h3>Beside published solutions</h3><div class="tablewrap"><table class="ref">'
            "<caption>Our number from this run, and the number a published solution reported "
            "(labelled as theirs; their settings may differ).</caption>"
            "<thead><tr><th>quantity</th><th>this run</th><th>published</th><th>source</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _damaged_section(name: str, title: str, damage: str) -> str:
    anchor = html.escape(name)
    return (f'<section id="{anchor}"><h2>{html.escape(title)}</h2>'
            f'<p class="notrun">Warning: {html.escape(damage)}. Run it again: '
            f"<code>mnistlab run {anchor}</code></p></section>")


def _section(name: str, title: str, folder: Path, record: dict | None) -> str:
    anchor = html.escape(name)
    if record is None:
        return (f'<section id="{anchor}"><h2>{html.escape(title)}</h2>'
                f'<p class="notrun">Not run yet: <code>mnistlab run {anchor}</code></p></section>')
    env = record.get("environment", {})
    meta = (f"{record['profile']} profile · seed {record['seed']} · {record['seconds']:.1f} s on "
            f"{env.get('device', '?')} ({env.get('cores', '?')} cores, torch {env.get('torch', '?')}) · "
            f"{record.get('finished_at', '')}")
    parts = [f'<section id="{anchor}"><h2>{html.escape(record.get("title", title))}</h2>',
             f'<p class="meta">{html.escape(meta)}</p>']
    parts += [f"<p>{html.escape(p)}</p>" for p in record.get("text", [])]
    parts.append(_references(record.get("references", []), record.get("metrics", {})))
    tables = [_table(table, f"{name}-{key}") for key, table in record.get("tables", {}).items()]
    if tables:
        parts.append(f'<div class="tables">{"".join(tables)}</div>')
    parts += [_figure(folder, fig) for fig in record.get("figures", [])]
    metrics = record.get("metrics", {})
    if metrics:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in sorted(metrics.items()))
        parts.append(f"<details><summary>All {len(metrics)} metrics</summary><table>{rows}</table></details>")
    parts.append("<details><summary>Configuration</summary><pre>"
                 f"{html.escape(json.dumps(record.get('config', {}), indent=2))}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render(out: Path) -> str:
    from mnistlab.tasks import REGISTRY  # names and titles only; task code is not run

    sections, toc = [], []
    for name, task in REGISTRY.items():
        path = out / name / "result.json"
        record, damage = None, ""
        try:
            record = read_result(path)
        except FileNotFoundError:
            pass
        except MnistlabError as exc:
            damage = str(exc)
            print(f"mnistlab: warning: {damage}", file=sys.stderr)
        status = "" if record else " (damaged)" if damage else " (not run)"
        toc.append(f'<li><a href="#{html.escape(name)}">{html.escape(task.title)}</a>{status}</li>')
        sections.append(_damaged_section(name, task.title, damage) if damage
                        else _section(name, task.title, out / name, record))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mnistlab report</title><style>{CSS}</style></head>
<body><main>
<h1>mnistlab report</h1>
<p class="meta">mnistlab {__version__} · written {now} from {html.escape(str(out))}. Every figure and number
below was computed by the runs stored there; numbers from published solutions are labelled as such.</p>
<nav><ol>{''.join(toc)}</ol></nav>
{''.join(sections)}
</main></body></html>
"""


def write_report(out: Path, target: Path) -> Path:
    atomic_write_text(target, render(out))
    return target
