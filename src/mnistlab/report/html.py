"""Render OUT/*/result.json as one self-contained HTML page (figures embedded as base64 PNG).

The report only reads results: it never runs a task's code (it reads the registry for titles, profile
defaults and the command that reproduces a section), so what it shows is exactly what the runs stored.

Each section opens with what a reader wants first: the command that reproduces it, its key table and
figure, at most five short findings and the published figures beside ours; the full discussion, the
remaining tables and figures, every metric and the configuration follow, the long parts folded away.
The page is a Jinja2 template with autoescaping, so no text from a result can inject HTML.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from mnistlab import __version__
from mnistlab.catalog import PROFILES, describe_profile
from mnistlab.errors import MnistlabError
from mnistlab.execution.atomic import NotARegularFile, read_regular
from mnistlab.execution.progress import duration_text as _duration
from mnistlab.execution.store import atomic_write_text, read_result, to_jsonable

MAX_FINDINGS = 5
FINDING_CHARS = 320

CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --rule:#d9dee7; --accent:#0b5fa5; --bg:#fbfcfe; --theirs:#6a4c93; }
* { box-sizing: border-box; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 2rem; margin: 0 0 .25rem; }
h2 { font-size: 1.45rem; margin: 3rem 0 .3rem; padding-top: 1rem; border-top: 2px solid var(--rule);
     display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; }
h2 a.top { font-size: .8rem; font-weight: normal; white-space: nowrap; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; color: var(--muted); }
.meta { color: var(--muted); font-size: .9rem; margin: .2rem 0; }
.runline { background: #eef2f8; border-left: 4px solid var(--accent); padding: .5rem .8rem; font-size: .92rem; }
.runline b { font-weight: 600; }
nav ol { columns: 2; padding-left: 1.2rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.cmd { margin: .5rem 0 1rem; font-size: .88rem; }
.cmd code { background: #f1f4f9; padding: .15rem .45rem; border-radius: 3px; user-select: all; }
ul.findings { margin: .8rem 0 1rem; padding-left: 1.2rem; }
ul.findings li { margin: .25rem 0; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .9rem; }
caption { caption-side: top; text-align: left; color: var(--muted); padding: .3rem 0; font-size: .88rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .7rem; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef2f8; font-weight: 600; }
.tablewrap { overflow-x: auto; max-width: 100%; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
table.ref td, table.ref th { text-align: left; }
table.ref td.ours { text-align: right; white-space: nowrap; }
table.ref td.published { color: var(--theirs); max-width: 22rem; }
table.ref td.source { white-space: nowrap; }
table.ref td.note { color: var(--muted); font-size: .85rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); background: white; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .3rem; }
details { margin: .6rem 0; } summary { cursor: pointer; color: var(--accent); }
details.discussion p { max-width: 75ch; }
pre { background: #f1f4f9; padding: .6rem .8rem; overflow-x: auto; font-size: .82rem; }
.notrun { color: #a33; }
p.banner { background: #fff4d6; border-left: 4px solid #e69f00; padding: .45rem .7rem; margin: .6rem 0; }
.example { border-left: 4px solid #2e8b57; background: #f0f8f3; padding: .2rem .9rem .4rem; margin: .8rem 0; }
.example h3 { color: var(--ink); margin-top: .6rem; }
p.intro { font-size: 1.02rem; max-width: 75ch; }
dl.sources dt { font-weight: 600; color: var(--theirs); } dl.sources dd { margin: 0 0 .4rem 1.2rem; }
"""

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mnistlab report</title><style>{{ css }}</style></head>
<body><main>
<h1 id="contents">mnistlab report</h1>
{%- if intro %}<p class="intro">{{ intro }}</p>{% endif %}
<p class="runline">{{ header }}</p>
{%- if quick %}
<p class="banner">{{ quick_banner }} (sections: {{ quick | join(", ") }}). Run <code>make report PROFILE=brief</code>
for the assignment's settings.</p>
{%- endif %}
<p class="meta">mnistlab {{ version }} · written {{ now }} from <code>{{ out }}</code>. Every figure and number below
was computed by the runs stored there, except the <span style="color:var(--theirs)">published</span> column of the
tables headed "Beside published solutions", which quotes what written solutions reported (labelled Report A-D, see
<a href="#sources">the sources</a>).</p>
<nav><ol>
{%- for s in sections %}
<li><a href="#{{ s.name }}">{{ s.title }}</a>
{%- if s.damage %} (damaged){% elif not s.record %} (not run){% endif %}</li>
{%- endfor %}
<li><a href="#sources">Published solutions cited</a></li>
</ol></nav>
{% for s in sections %}
<section id="{{ s.name }}">
<h2><span>{{ s.title }}</span><a class="top" href="#contents">↑ contents</a></h2>
{%- if s.damage %}
<p class="notrun">Warning: {{ s.damage }}. Run it again: <code>mnistlab run {{ s.name }}</code></p>
{%- elif not s.record %}
<p class="notrun">Not run yet: <code>mnistlab run {{ s.name }}</code></p>
{%- else %}
<p class="meta">{{ s.meta }}</p>
{%- if s.quick %}<p class="banner">{{ quick_banner }}.</p>{% endif %}
{%- if s.example %}
<div class="example"><h3>The answers at the assignment's settings (<a href="{{ s.example.href }}">committed example
report</a>: {{ s.example.label }})</h3>
{%- if s.example.key_table %}{{ table(s.example.key_table) }}{% endif %}
{%- if s.example.findings %}<ul class="findings">{% for f in s.example.findings %}<li>{{ f }}</li>{% endfor %}</ul>
{%- endif %}
<p class="meta">Numbers of the example's run, not of this one; this run's own smoke-test numbers follow.</p></div>
{%- endif %}
<p class="cmd">Reproduce: <code>{{ s.command }}</code></p>
{%- if s.key_table %}{{ table(s.key_table) }}{% endif %}
{%- if s.key_figure %}{{ figure(s.key_figure) }}{% endif %}
{%- if s.findings %}
<h3>Findings</h3>
<ul class="findings">{% for f in s.findings %}<li>{{ f }}</li>{% endfor %}</ul>
{%- endif %}
{{ references(s.references) }}
{%- if s.text %}
<details class="discussion"><summary>
{{- "What this smoke test computed (not findings)" if s.quick else "Full discussion" }}
({{ s.text | length }} paragraph{{ "s" if s.text | length > 1 }})</summary>
{%- for p in s.text %}<p>{{ p }}</p>{% endfor %}</details>
{%- endif %}
{%- if s.tables %}
<h3>More tables</h3>
<div class="tables">{% for t in s.tables %}{{ table(t) }}{% endfor %}</div>
{%- endif %}
{%- if s.figures %}
<h3>More figures</h3>
{% for f in s.figures %}{{ figure(f) }}{% endfor %}
{%- endif %}
{%- if s.metrics %}
<details><summary>All {{ s.metrics | length }} metrics</summary><table>
{%- for k, v in s.metrics %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table></details>
{%- endif %}
<details><summary>Configuration</summary><pre>{{ s.config }}</pre></details>
{%- endif %}
</section>
{% endfor %}
<section id="sources">
<h2><span>Published solutions cited</span><a class="top" href="#contents">↑ contents</a></h2>
<p>The "published" numbers quote these written solutions; each was obtained with that report's own settings
(noted beside the number where they differ from ours), so compare like with like.</p>
<dl class="sources">{% for label, text in sources %}<dt>{{ label }}</dt><dd>{{ text }}</dd>{% endfor %}</dl>
</section>
</main></body></html>
"""

MACROS = """{% macro table(t) -%}
<div class="tablewrap"><table id="{{ t.id }}">{% if t.caption %}<caption>{{ t.caption }}</caption>{% endif %}
<thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table></div>
{%- endmacro %}
{% macro figure(f) -%}
{% if f.data %}<figure><img alt="{{ f.caption }}" src="data:{{ f.mime }};base64,{{ f.data }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{%- elif f.src %}<figure><img alt="{{ f.caption }}" src="{{ f.src }}" loading="lazy">
<figcaption>{{ f.caption }}</figcaption></figure>
{%- elif f.link %}<figure><p><a href="{{ f.link }}">{{ f.file }}</a> (PDF)</p>
<figcaption>{{ f.caption }}</figcaption></figure>
{%- else %}<p class="notrun">Figure {{ f.file }} is missing.</p>{% endif %}
{%- endmacro %}
{% macro references(refs) -%}
{% if not refs -%}
<p class="meta">No published reference numbers are recorded for this section: the published solutions of this
assignment that we could find report none for it.</p>
{%- else -%}
<h3>Beside published solutions</h3><div class="tablewrap"><table class="ref">
<caption>Our number from this run, and the number a published solution reported (labelled as theirs; their
settings may differ, as noted).</caption>
<thead><tr><th>quantity</th><th>this run</th><th>published</th><th>source</th><th>their settings</th></tr></thead>
<tbody>{% for r in refs %}<tr><td>{{ r.quantity }}</td><td class="ours">{{ r.ours }}</td>
<td class="published">{{ r.published }}</td><td class="source">{% if r.href %}<a href="{{ r.href }}">{{ r.source }}</a>
{%- else %}{{ r.source }}{% endif %}</td><td class="note">{{ r.note }}</td></tr>{% endfor %}</tbody>
</table></div>
{%- endif %}
{%- endmacro %}
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
_PAGE = _ENV.from_string(MACROS + TEMPLATE)


QUICK_BANNER = f"quick profile: {PROFILES['quick'].summary}; the numbers are a smoke test, not findings"


def _fmt(value: Any) -> str:
    """A number as a reader wants it: thousands separators, 4 significant decimals, no float noise."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def _ours(value: Any, unit: str) -> str:
    """Our number in the unit the published figure is quoted in."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    if unit == "%" and 0 <= value <= 1:
        return f"{value:.2%}"
    if unit == "pp":
        return f"{value:+.2f} pp"
    if unit == "s":
        return f"{value:,.1f} s"
    if unit == "min":
        return f"{value:.1f} min"
    return _fmt(value)


def _table(table: dict, table_id: str) -> dict:
    return {"id": table_id, "caption": table.get("caption", ""), "columns": table.get("columns", []),
            "rows": [[_fmt(c) for c in row] for row in table.get("rows", [])]}


# Figure formats the page embeds (others, PDF, it links: a browser shows them in their own tab).
EMBEDDED = {".png": "image/png", ".svg": "image/svg+xml"}


def _figure(folder: Path, fig: dict, report_dir: Path | None = None, embed: bool = True) -> dict:
    """A figure for the page: PNG and SVG embedded as base64 (or, with `embed` False, shown from their file
    relative to the report's folder), a PDF linked; each only when it is a regular file inside the task folder
    once links are resolved: a link in a shared results folder must not carry /etc/shadow into the page. Else
    one warning line, and the page says the figure is missing."""
    path = folder / fig["file"]
    mime = EMBEDDED.get(path.suffix.lower())
    data = link = src = ""
    try:
        content = read_regular(path, within=folder)
        relative = _relative(path, report_dir)
        if mime and embed:
            data = base64.b64encode(content).decode("ascii")
        elif mime:
            src = relative
        else:
            link = relative
    except FileNotFoundError:
        pass
    except OSError as exc:
        reason = str(exc) if isinstance(exc, NotARegularFile) else (exc.strerror or str(exc))
        print(f"mnistlab: warning: figure {path} skipped: {_one_line(reason)}", file=sys.stderr)
    return {"file": fig["file"], "caption": fig.get("caption", ""), "data": data, "mime": mime or "", "link": link,
            "src": src}


def _relative(path: Path, report_dir: Path | None) -> str:
    """`path` as a link from the report's folder (the current folder where none is given)."""
    return Path(os.path.relpath(path.resolve(), (report_dir or Path.cwd()).resolve())).as_posix()


def _tables_and_key(record: dict, id_prefix: str) -> tuple[dict | None, list[dict]]:
    """A stored result's tables for the page, and the one its task declared as the key table (else the first)."""
    tables = [{**_table(t, f"{id_prefix}-{key}"), "key": key} for key, t in record.get("tables", {}).items()]
    return _pick(tables, record.get("key_table") or None, "key")


def _record_findings(record: dict) -> list[str]:
    """The findings a stored result's paragraphs declare (with several seeds, those of the first seed say so)."""
    seeds = record.get("seeds") or [record.get("seed", 0)]
    return findings([p for p in record.get("paragraphs", []) if isinstance(p, dict)],
                    first_seed=seeds[0] if len(seeds) > 1 else None)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _references(refs: list[dict], metrics: dict) -> list[dict]:
    return [{"quantity": r.get("quantity", ""), "published": r.get("published", ""), "source": r.get("source", ""),
             "href": r["source"] if str(r.get("source", "")).startswith("http") else "",
             "note": r.get("note", ""), "ours": _ours(metrics.get(r.get("metric") or ""), r.get("unit", ""))}
            for r in refs]


def findings(paragraphs: Iterable[dict], limit: int = MAX_FINDINGS, first_seed: int | None = None) -> list[str]:
    """At most `limit` short findings: the `finding` each stored paragraph declares, in the section's order.

    A task writes, beside each paragraph that states a result, the one sentence of it that is the finding
    (`mnistlab.tasks.base.Paragraph`); paragraphs about how a run was made declare none, nor does a sentence
    about one pair of trained networks, which cannot tell configurations apart. The runner's paragraph of
    comparisons declares those that survive the section's adjustment across seeds, and leads the list. With
    several seeds the discussion describes the first (`first_seed`): its findings say so.
    """
    stated = [(p.get("id"), str(p["finding"])) for p in paragraphs
              if isinstance(p, dict) and isinstance(p.get("finding"), str) and p["finding"]]
    across = [text for pid, text in stated if pid == "comparisons"]
    lead = "" if first_seed is None else f"Seed {first_seed}: "
    return [_shorten(text) for text in across + [lead + text for pid, text in stated if pid != "comparisons"]][:limit]


def _shorten(text: str, limit: int = FINDING_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1].rstrip(",;: ") + " …"


def _set_value(value: Any) -> str:
    """A config value as `--set` parses it back (tuples comma-joined, None as none, booleans lower-case)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_set_value(v) for v in value)
    return str(value)


def reproduce_command(name: str, record: dict) -> str:
    """The `mnistlab run` command that reproduces a stored result: its profile, seed and every option that
    differs from the profile's default. A precision the profile leaves on 'auto' is not pinned, since the
    runner resolves 'auto' for the machine it runs on."""
    from mnistlab.tasks import REGISTRY

    seeds = record.get("seeds") or [record.get("seed", 0)]
    parts = ["mnistlab", "run", name, "--profile", str(record.get("profile", "quick"))]
    parts += ["--seeds", ",".join(map(str, seeds))] if len(seeds) > 1 else ["--seed", str(seeds[0])]
    device = str(record.get("environment", {}).get("device", "cpu"))
    if device.startswith("cuda"):
        parts += ["--device", "cuda"]
    task = REGISTRY.get(name)
    stored = record.get("config", {})
    if task is not None:
        try:
            defaults = to_jsonable(task.config(str(record.get("profile", "quick"))))
        except Exception:  # a profile this version no longer knows: show the options as stored
            defaults = {}
        for key, value in stored.items():
            default = defaults.get(key, object())
            if value == default or (default == "auto" and (key == "precision" or key.endswith("_precision"))):
                continue
            parts += ["--set", f"{key}={_set_value(value)}"]
    return shlex.join(parts)


def _precisions(record: dict) -> set[str]:
    return {str(v) for k, v in record.get("config", {}).items() if k == "precision" or k.endswith("_precision")}


def _header(records: dict[str, dict], n_tasks: int) -> str:
    """One line for the whole page: profiles, seeds, devices, precisions and the total run time."""
    if not records:
        return "No results yet: run `mnistlab run all`, then `mnistlab report`."

    def joined(values: Iterable[Any]) -> str:
        return ", ".join(sorted({str(v) for v in values})) or "–"

    runs = list(records.values())
    devices = {_machine(r.get("environment", {})) for r in runs}
    total = sum(float(r.get("seconds", 0.0)) for r in runs)
    return (f"{len(runs)} of {n_tasks} tasks run · profile {joined(r.get('profile') for r in runs)} · "
            f"seeds {joined(_seeds_text(r) for r in runs)} · device {joined(devices)} · "
            f"precision {joined(p for r in runs for p in _precisions(r))} · "
            f"total run time {_duration(total)} (the stored runs' own times; sub-runs loaded from the cache add none)")


def _machine(env: dict) -> str:
    """The device with what makes its results differ from another machine's: torch, cores and threads, and the
    CPU's model and kernel-relevant ISA features (bf16 trains other networks on AVX512-BF16 than on AMX)."""
    features, cpu = env.get("cpu_features"), ""
    if env.get("cpu_model"):
        cpu = (f"; CPU {env['cpu_model']}" + (f" with {', '.join(map(str, features))}" if features else "")
               + (f", kernels {env['cpu_capability']}" if env.get("cpu_capability") else ""))
    return (f"{env.get('device', '?')} (torch {env.get('torch', '?')}, {env.get('cores', '?')} cores, "
            f"{env.get('threads', '?')} threads{cpu})")


def _profiles_text(records: dict[str, dict]) -> str:
    """The one description of each profile the results were run with (mnistlab.catalog)."""
    used = [name for name in PROFILES if any(r.get("profile") == name for r in records.values())]
    return "".join(f". {describe_profile(name)[0].upper()}{describe_profile(name)[1:]}" for name in used)


def _seeds_text(record: dict) -> str:
    seeds = record.get("seeds") or [record.get("seed", "?")]
    return f"{seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} ({', '.join(map(str, seeds))})"


def _pick(items: list[dict], wanted: str | None, key: str) -> tuple[dict | None, list[dict]]:
    """The key item (the wanted one, else the first) and the rest, in their order."""
    if not items:
        return None, []
    index = next((i for i, item in enumerate(items) if item.get(key) == wanted), 0)
    return items[index], items[:index] + items[index + 1:]


def _section(name: str, title: str, folder: Path, record: dict | None, report_dir: Path | None = None,
             embed: bool = True) -> dict:
    if record is None:
        return {"name": name, "title": title, "record": None}
    env = record.get("environment", {})
    precision = ", ".join(sorted(_precisions(record)))
    seeds = record.get("seeds") or [record.get("seed", "?")]
    own = record_seeds(record) if len(seeds) == 1 and isinstance(seeds[0], int) else []
    meta = (f"{record.get('profile', '?')} profile · "
            + (f"seeds {own[0]}-{own[-1]}, the task's own (its tables give means with their intervals)"
               if len(own) > 1 else
               f"seed {seeds[0]} (every number: one network per seed)" if len(seeds) == 1 else
               f"{len(seeds)} seeds ({', '.join(map(str, seeds))}): numbers are means, intervals in the seeds table")
            + " · "
            f"{_duration(float(record.get('seconds', 0.0)))} on {env.get('device', '?')} "
            f"({env.get('cores', '?')} cores, torch {env.get('torch', '?')})"
            + (f" · precision {precision}" if precision else "") + f" · finished {record.get('finished_at', '?')}")
    # The task declared which table and figure answer its main question; the result carries them.
    key_table, other_tables = _tables_and_key(record, name)
    figures = [_figure(folder, f, report_dir, embed) for f in record.get("figures", [])]
    key_stem = Path(str(record.get("key_figure") or "")).stem  # whichever format the figures were saved in
    key_figure, other_figures = _pick(figures, next((f["file"] for f in figures if Path(f["file"]).stem == key_stem),
                                                    None), "file")
    metrics = record.get("metrics", {})
    paragraphs = [p for p in record.get("paragraphs", []) if isinstance(p, dict)]
    return {
        "name": name, "title": record.get("title", title), "record": True, "meta": meta,
        "command": reproduce_command(name, record), "key_table": key_table, "key_figure": key_figure,
        "quick": record.get("profile") == "quick",
        "findings": [] if record.get("profile") == "quick" else _record_findings(record),
        "references": _references(record.get("references", []), metrics),
        "text": [str(p.get("text", "")) for p in paragraphs], "tables": other_tables, "figures": other_figures,
        "metrics": [(k, _fmt(v)) for k, v in sorted(metrics.items())],
        "config": json.dumps(record.get("config", {}), indent=2),
    }


def _read(path: Path, damaged: dict[str, str], name: str) -> dict | None:
    """The stored result, or None: not run yet, or damaged (then `damaged[name]` says how, and so does
    a warning on stderr) -- a damaged file is never shown as 'not run' without a word, nor fails the page."""
    try:
        return read_result(path, name)
    except FileNotFoundError:
        return None
    except MnistlabError as exc:
        damaged[name] = str(exc)
        print(f"mnistlab: warning: {exc}", file=sys.stderr)
        return None


# The committed example report of the brief profile (`make example`), in a checkout of the repository.
EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "brief"


def record_seeds(record: dict) -> list[int]:
    """The seeds a result's networks ran over: the runner's, or for a task that runs a count of seeds of its own
    from the runner's one (the recipes' `seeds` option), seed, seed + 1, ..."""
    seeds = record.get("seeds") or [record.get("seed", 0)]
    own = (record.get("config") or {}).get("seeds")
    if len(seeds) == 1 and isinstance(own, int) and not isinstance(own, bool) and own > 1:
        return [seeds[0] + k for k in range(own)]
    return list(seeds)


def example_label(record: dict) -> str:
    """'brief profile, 3 seeds, AMD EPYC, 2026-12-07': how a number of the committed example is labelled."""
    seeds = record_seeds(record)
    cpu = record.get("environment", {}).get("cpu_model") or record.get("environment", {}).get("device", "?")
    return (f"{record.get('profile', '?')} profile, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}, {cpu}, "
            f"{str(record.get('finished_at', '?'))[:10]}")


def _example_answer(name: str, example: Path, report_dir: Path | None) -> dict | None:
    """For a quick-profile section: the committed example's key table and findings for the same task,
    labelled with its profile, seeds, CPU and date, and a link to its section; None where it has none."""
    try:
        record = read_result(example / name / "result.json", name)
    except (OSError, MnistlabError):
        return None
    if record.get("profile") == "quick":
        return None
    key_table, _ = _tables_and_key(record, f"{name}-example")
    return {"label": example_label(record), "href": f"{_relative(example / 'index.html', report_dir)}#{name}",
            "key_table": key_table, "findings": _record_findings(record)}


def render(out: Path, report_dir: Path | None = None, *, embed: bool = True, example: Path | None = EXAMPLE_DIR,
           intro: str = "") -> str:
    """The page for the results in `out`; `report_dir`, where it will be written, is what links start from.
    `embed` puts the figures in the page (else it shows them from their files); a quick-profile section shows,
    beside its own smoke-test numbers, the answers of the committed example in `example`; `intro` is a line
    the page opens with."""
    from mnistlab.analysis.published import SOURCES
    from mnistlab.tasks import REGISTRY  # names, titles and profile defaults only; task code is not run

    damaged: dict[str, str] = {}
    records = {name: r for name in REGISTRY if (r := _read(out / name / "result.json", damaged, name)) is not None}
    same = example is not None and out.resolve() == example.resolve()
    sections = []
    for name, task in REGISTRY.items():
        section = {**_section(name, task.title, out / name, records.get(name), report_dir, embed),
                   "damage": damaged.get(name, ""), "example": None}
        if section.get("quick") and example is not None and not same:
            section["example"] = _example_answer(name, example, report_dir)
        sections.append(section)
    cited = {r.get("source") for rec in records.values() for r in rec.get("references", [])}
    sources = [(label, text) for label, text in SOURCES.items() if label in cited] or list(SOURCES.items())
    quick = [name for name, r in records.items() if r.get("profile") == "quick"]
    return _PAGE.render(css=CSS, header=_header(records, len(REGISTRY)) + _profiles_text(records),
                        version=__version__, out=str(out), intro=intro,
                        quick=quick, quick_banner=QUICK_BANNER,
                        now=datetime.now(UTC).isoformat(timespec="seconds"), sections=sections, sources=sources)


def write_report(out: Path, target: Path, **options: Any) -> Path:
    """Write the page for the results in `out` to `target` (atomically); `options` as `render` takes them."""
    atomic_write_text(target, render(out, target.parent, **options))
    return target
