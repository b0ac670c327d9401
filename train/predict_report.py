"""report.html of a predict run: the flagged clauses of the first documents, with the text
around them, within fixed caps so the page opens however large the corpus. `REPORT_CSS` is
shared with the diff and watch pages."""

from __future__ import annotations

from datetime import datetime, timezone

CONTEXT_CHARS = 160  # text shown around a flagged clause in report.html


REPORT_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:1rem 0} td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f5f5f5} td.n{text-align:right}
section.doc{border-top:2px solid #eee;margin-top:1.5rem;padding-top:.5rem}
.chip{display:inline-block;border-radius:1rem;padding:0 .55rem;margin:0 .25rem .2rem 0;font-size:.8rem;
 background:#e8eefc;color:#1a3a8a;white-space:nowrap}
.chip.ai_training{background:#fde2e1;color:#8a1a1a} .chip.content_license{background:#fff0d0;color:#7a4a00}
.chip.warn{background:#eee;color:#555}
li.clause{margin:.6rem 0} .ctx{color:#777} mark{background:#fff3a8;color:#000;padding:0 .1rem}
.note{color:#777;font-style:italic}
"""

_REPORT_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ClauseWatch report</title>
<style>{{ css }}</style></head><body>
<h1>ClauseWatch report</h1>
<p class="meta">Model {{ s.model }} ({{ s.backend }}) &middot; generated {{ generated }}</p>
<table>
<tr><th>documents</th><td class="n">{{ s.documents }}</td></tr>
<tr><th>clauses</th><td class="n">{{ s.clauses }}</td></tr>
<tr><th>flagged clauses</th><td class="n">{{ s.flagged_clauses }}</td></tr>
<tr><th>mostly non-English documents</th><td class="n">{{ s.non_english_documents }}</td></tr>
<tr><th>skipped (see skipped.csv)</th><td class="n">{{ s.skipped }}</td></tr>
</table>
<table><tr><th>label</th><th>flagged clauses</th><th>documents</th></tr>
{% for name, c in s.labels.items() %}<tr><td><span class="chip {{ name }}">{{ name }}</span></td>
<td class="n">{{ c.clauses }}</td><td class="n">{{ c.documents }}</td></tr>
{% endfor %}</table>
<h2>Documents with flagged clauses</h2>
{% if not docs %}<p class="note">No clause was flagged.</p>{% endif %}
{% for d in docs %}<section class="doc"><h3>{{ d.row.doc_id }}</h3>
<p>{{ d.row.clauses }} clauses, {{ d.row.flagged_clauses }} flagged:
{% for name in labels if d.row[name] %}<span class="chip {{ name }}">{{ name }} &times; {{ d.row[name] }}</span>{% endfor %}
{% if d.row.mostly_non_english %}<span class="chip warn">mostly not English ({{ d.row.language }})</span>{% endif %}
{% if d.row.note %}<span class="chip warn">{{ d.row.note }}</span>{% endif %}</p>
<ol>{% for c in d.clauses %}<li class="clause">
{% for name in c.labels %}<span class="chip {{ name }}">{{ name }} {{ '%.2f' % c.scores[name] }}</span>{% endfor %}
{% if c.id is not none %}<span class="meta">id {{ c.id }}</span>{% endif %}
<span class="meta">[{{ c.start }}:{{ c.end }}]</span><br>
<span class="ctx">{{ c.before }}</span><mark>{{ c.text }}</mark><span class="ctx">{{ c.after }}</span>
</li>{% endfor %}</ol>
{% if d.more %}<p class="note">{{ d.more }} more flagged clauses in clauses.jsonl.</p>{% endif %}
</section>{% endfor %}
{% if more_docs %}<p class="note">{{ more_docs }} more documents with flagged clauses: see documents.csv
and clauses.jsonl.</p>{% endif %}
</body></html>
"""


def _context(text: str, side: str, cut: bool) -> str:
    """Whitespace-collapsed context before or after a clause, with an ellipsis where it was cut."""
    squashed = " ".join(text.split())
    if not squashed:
        return ""
    mark = "\u2026" if cut else ""
    return f"{mark}{squashed} " if side == "before" else f" {squashed}{mark}"


class _ReportBuilder:
    """Collects, within fixed caps, the flagged clauses shown in report.html, so the page stays
    small enough to open however large the corpus."""

    def __init__(self, labels: list[str], max_docs: int, max_clauses: int) -> None:
        self.labels = labels
        self.max_docs = max_docs
        self.max_clauses = max_clauses
        self.docs: list[dict] = []
        self.more_docs = 0
        self.current: dict | None = None

    def start_document(self, row: dict) -> None:
        self.current = None
        if not row["flagged_clauses"]:
            return
        if len(self.docs) >= self.max_docs:
            self.more_docs += 1
            return
        self.current = {"row": row, "clauses": [], "more": 0}
        self.docs.append(self.current)

    def add_clause(self, rec: dict) -> None:
        if self.current is None or not rec["labels"]:
            return
        if len(self.current["clauses"]) >= self.max_clauses:
            self.current["more"] += 1
            return
        before, after = rec.get("ctx", ["", ""])
        self.current["clauses"].append(
            {
                "id": rec.get("id"),
                "start": rec["start"],
                "end": rec["end"],
                "text": rec["text"],
                "labels": rec["labels"],
                "scores": rec["scores"],
                "before": _context(before, "before", cut=len(before) >= CONTEXT_CHARS),
                "after": _context(after, "after", cut=len(after) >= CONTEXT_CHARS),
            }
        )

    def render(self, summary: dict) -> str:
        import jinja2

        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        return env.from_string(_REPORT_TEMPLATE).render(
            css=REPORT_CSS,
            s=summary,
            labels=self.labels,
            docs=self.docs,
            more_docs=self.more_docs,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
