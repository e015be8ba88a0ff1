"""make grade's class report, OUT/report.html: one self-contained page (inline CSS and SVG).

Statuses, the score distribution, each question's mean and full-marks rate, the hardest question, the most
frequent failure messages (the grader's own words, the student's quoted text masked), the grading notes, the
flagged submissions, the throughput of the run, and a link to the code-similarity report.
"""

from __future__ import annotations

import collections
import datetime
import html
import pathlib
import re
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools.grade.gradebook import COMPLETED, FAILED, NOT_GRADED, REJECTED, TIMEOUT
from tools.report import similarity

if TYPE_CHECKING:
    from tools.grade.gradebook import Row
    from tools.grade.pool import Throughput

REPORT_NAME = "report.html"

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
# the student's text inside a message, as the verdict quotes it: "..." (quoted from your submission)
QUOTED = re.compile(r'"[^"]*" \(quoted from your submission\)')
STUDENT_PART = '"..." (quoted from your submission)'


def template(message: str) -> str:
    """A grader's message as its template: the student's quoted text and the numbers masked, so that
    the report counts the grader's own messages and shows none of the students' text."""
    return NUMBER.sub("#", QUOTED.sub(STUDENT_PART, message))


def failures(output: str) -> list[tuple[str, str]]:
    """[(check, message)] of one question's output: each ``failed (0/N): check`` and its indented message."""
    found: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in output.splitlines():
        if line.startswith("failed ("):
            current = (line.split("): ", 1)[-1].strip(), [])
            found.append(current)
        elif line.startswith("passed ("):
            current = None
        elif current is not None and line.startswith("    "):
            current[1].append(line.strip())
    return [(check, " ".join(message)) for check, message in found]


def class_statistics(rows: Sequence[Row]) -> dict[str, Any]:
    """What the report shows, from the rows: per question, the graded submissions' scores and failures."""
    graded = [(r, r.result) for r in rows if r.status == COMPLETED and r.result is not None]
    questions = sorted({q for _, result in graded for q in result.tests})
    per_question: dict[str, dict[str, Any]] = {}
    for q in questions:
        scores = [(result.scores[q], result.max_scores[q]) for _, result in graded if q in result.tests]
        points = max(m for _, m in scores)
        failed: collections.defaultdict[str, set[str]] = collections.defaultdict(
            set
        )  # check -> submissions that failed it
        messages: collections.defaultdict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )  # check -> message with numbers masked -> count
        examples: dict[tuple[str, str], str] = {}
        for r, result in graded:
            if q in result.tests:
                for check, message in failures(result.output(q)):
                    failed[check].add(r.key)
                    masked = template(message)
                    messages[check][masked] += 1
                    examples.setdefault((check, masked), QUOTED.sub(STUDENT_PART, message))
        top = sorted(failed, key=lambda check: (-len(failed[check]), check))
        per_question[q] = {
            "points": points,
            "n": len(scores),
            "mean": statistics.mean(s for s, _ in scores),
            "share": statistics.mean(s / m if m else 1.0 for s, m in scores),
            "full": sum(1 for s, m in scores if s >= m) / len(scores),
            "failures": [
                {
                    "check": check,
                    "count": len(failed[check]),
                    "messages": [(examples[(check, masked)], n) for masked, n in messages[check].most_common(3)],
                }
                for check in top
            ],
        }
    ranking = sorted(per_question, key=lambda q: (per_question[q]["share"], per_question[q]["full"], q))
    notes: collections.Counter[str] = collections.Counter()
    for _, result in graded:
        entry: dict[str, Any] = next((t for t in result.raw["tests"] if t.get("name") == "Grading notes"), {})
        for line in entry.get("output", "").splitlines()[1:]:  # the first line is the autograder's id
            if line.strip():
                notes[template(line.strip())] += 1
    return {"graded": graded, "questions": per_question, "ranking": ranking, "notes": notes}


def _histogram_svg(totals: Sequence[float], possible: float, bins: int = 10) -> str:
    width, height, pad = 640, 220, 30
    counts = [0] * bins
    for t in totals:
        counts[min(bins - 1, int(bins * t / possible)) if possible else 0] += 1
    top = max(counts) or 1
    bar = (width - 2 * pad) / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="score distribution">'
    ]
    for i, c in enumerate(counts):
        h = (height - 2 * pad) * c / top
        x, y = pad + i * bar, height - pad - h
        lo, hi = possible * i / bins, possible * (i + 1) / bins
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" fill="#4a78b5">'
            f"<title>{lo:g}-{hi:g} points: {c}</title></rect>"
        )
        if c:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12">{c}</text>')
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - pad + 14:.1f}" text-anchor="middle" font-size="10">'
            f"{lo:g}-{hi:g}</text>"
        )
    parts.append(f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/></svg>')
    return "".join(parts)


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; } td.num { text-align: right; }
.bar { background: #e3e8ef; width: 160px; height: 0.9em; display: inline-block; }
.bar span { background: #4a78b5; height: 100%; display: block; }
tr.hardest td { background: #fde8e8 !important; } #hardest { font-size: 1.2em; padding: 0.6em 1em; background: #fde8e8; }
.muted { color: #666; font-size: 0.9em; } code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _bar(share: float) -> str:
    return f'<span class="bar"><span style="width:{100 * share:.0f}%"></span></span>'


def write_report(
    rows: Sequence[Row],
    out: str | pathlib.Path,
    ag_id: str,
    throughput: Throughput | None = None,
    title: str = "Deep Learning Fall 2023, HW1",
) -> pathlib.Path:
    """OUT/report.html: one self-contained page (inline CSS and SVG, no external asset).

    throughput: the run's pool.Throughput (how many it graded, how fast, with how many workers and why)."""
    e = html.escape
    stats = class_statistics(rows)
    qs, ranking = stats["questions"], stats["ranking"]
    statuses = collections.Counter(r.status for r in rows)
    possible = max((result.possible for _, result in stats["graded"]), default=0)
    totals = [r.result.total if r.status == COMPLETED and r.result is not None else 0 for r in rows]
    flagged = [(r.key, r.result.flags) for r in rows if r.result is not None and r.result.flags]
    parts = [
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}: class report</title>'
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}: class report</h1>",
        f'<p class="muted">{len(rows)} submissions; autograder <code>{e(ag_id[:12])}</code>; written '
        f"{e(datetime.datetime.now().astimezone().isoformat(timespec='minutes'))} by python -m tools.grade. "
        f"Question statistics count the {len(stats['graded'])} submissions the route graded (status Completed).</p>",
    ]
    if throughput is not None:
        parts.append(f'<p id="throughput">This run: {e(throughput.sentence())}.</p>')
    if (pathlib.Path(out) / similarity.HTML_NAME).exists():
        parts.append(
            f'<p id="similarity">Code similarity: <a href="{similarity.HTML_NAME}">{similarity.HTML_NAME}</a> ranks '
            "the most similar pairs of submissions, side by side: a reason to look, never a verdict.</p>"
        )
    if ranking:
        h = qs[ranking[0]]
        tied = [q for q in ranking if (qs[q]["share"], qs[q]["full"]) == (h["share"], h["full"])]
        names = ", ".join(f'<strong class="question">{e(q)}</strong>' for q in tied)
        rest = [q for q in ranking if q not in tied][:2]
        parts.append(
            f'<p id="hardest">Hardest question{"s (tied)" if len(tied) > 1 else ""}: {names} '
            f"(mean {h['mean']:.2f} of {h['points']:g} points, {100 * h['share']:.0f}% of its points; "
            f"{100 * h['full']:.0f}% of the graded submissions got full marks)."
            + (
                " Next: " + ", ".join(f"{e(q)} ({100 * qs[q]['share']:.0f}% of its points)" for q in rest) + "."
                if rest
                else ""
            )
            + '<br><span class="muted">Ranked by the mean share of a question\'s points, then by the share of '
            "submissions with full marks.</span></p>"
        )
    else:
        parts.append('<p id="hardest">No submission was graded: no question statistics.</p>')

    parts.append("<h2>Statuses</h2><table><tr><th>status</th><th>submissions</th></tr>")
    for status in (COMPLETED, REJECTED, TIMEOUT, FAILED, NOT_GRADED):
        if statuses.get(status):
            parts.append(f'<tr><td>{status}</td><td class="num">{statuses[status]}</td></tr>')
    parts.append(f'<tr><td>flagged (integrity)</td><td class="num">{len(flagged)}</td></tr></table>')
    problems = [r for r in rows if r.status != COMPLETED]
    if problems:
        parts.append(
            "<table><tr><th>submission</th><th>status</th></tr>"
            + "".join(f"<tr><td>{e(r.key)}</td><td>{e(r.grading_status)}</td></tr>" for r in problems)
            + "</table>"
        )

    parts.append("<h2>Score distribution</h2>")
    if totals and possible:
        parts.append(
            f"<p>Total autograded points of every row of final_grades.csv (not Completed: 0), out of {possible:g}: "
            f"mean {statistics.mean(totals):.1f}, median {statistics.median(totals):g}, "
            f"min {min(totals):g}, max {max(totals):g}.</p>" + _histogram_svg(totals, possible)
        )
    else:
        parts.append("<p>No scores.</p>")

    parts.append(
        "<h2>Questions</h2><table><tr><th>question</th><th>points</th><th>mean</th><th>share of points</th>"
        "<th>full marks</th><th>rank (1 = hardest)</th></tr>"
    )
    for q in sorted(qs):
        s = qs[q]
        cls = (
            ' class="hardest"'
            if ranking and (s["share"], s["full"]) == (qs[ranking[0]]["share"], qs[ranking[0]]["full"])
            else ""
        )
        parts.append(
            f'<tr{cls}><td>{e(q)}</td><td class="num">{s["points"]:g}</td><td class="num">{s["mean"]:.2f}</td>'
            f"<td>{_bar(s['share'])} {100 * s['share']:.0f}%</td><td>{_bar(s['full'])} {100 * s['full']:.0f}%</td>"
            f'<td class="num">{ranking.index(q) + 1}</td></tr>'
        )
    parts.append("</table>")

    parts.append(
        "<h2>Most frequent failures, hardest question first</h2>"
        f'<p class="muted">Per question, the checks failed most often (by how many of the {len(stats["graded"])} '
        "graded submissions failed them) and their most frequent messages (an example of each; messages that "
        "differ only in numbers count as one).</p>"
    )
    for q in ranking:
        top = qs[q]["failures"][:4]
        if not top:
            continue
        parts.append(
            f'<h3>{e(q)} <span class="muted">({100 * qs[q]["full"]:.0f}% full marks)</span></h3>'
            f'<table class="failures"><tr><th>submissions</th><th>failed check</th><th>messages</th></tr>'
        )
        for f in top:
            listed = "<br>".join(f'{e(m)} <span class="muted">({n})</span>' for m, n in f["messages"])
            parts.append(f'<tr><td class="num">{f["count"]}</td><td>{e(f["check"])}</td><td>{listed}</td></tr>')
        parts.append("</table>")

    if stats["notes"]:
        parts.append(
            "<h2>Most frequent grading notes</h2><table><tr><th>submissions</th><th>note (numbers as #)</th></tr>"
        )
        for note, count in stats["notes"].most_common(8):
            parts.append(f'<tr><td class="num">{count}</td><td>{e(note)}</td></tr>')
        parts.append("</table>")
    if flagged:
        parts.append(
            "<h2>Integrity flags</h2><table><tr><th>submission</th><th>flags</th></tr>"
            + "".join(f"<tr><td>{e(key)}</td><td>{e(' | '.join(flags))}</td></tr>" for key, flags in flagged)
            + "</table>"
        )
    parts.append("</body></html>\n")
    path = pathlib.Path(out) / REPORT_NAME
    path.write_text("\n".join(parts))
    return path
