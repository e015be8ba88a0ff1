"""Code similarity across a class: the most similar pairs of submissions, to read side by side.

    python -m tools.report.similarity SUBMISSIONS OUT        (make similarity SUBMISSIONS=... OUT=...)

Every upload of SUBMISSIONS (a folder of notebooks and export zips, or Gradescope's export, found as
``make grade`` finds them) is read as the grader reads it (``hw1_trusted.uploads``), and the source of its
code cells is compared with every other's by copydetect: MOSS-style winnowed fingerprints of the
tokenised code, with names and strings abstracted, so renaming variables hides nothing. The code cells of
the student release are the boilerplate: the handout's own lines never count.

Writes ``OUT/similarity.html`` (the pairs ranked by overlap, each linked to a side-by-side view with the
shared code highlighted) and ``OUT/similarity.csv``. A similarity is a reason to look, never a verdict:
short answers to the same question look alike, and a copy that was rewritten by hand looks different.
"""

import argparse
import csv
import html
import pathlib
import shutil
import tempfile
import time

import nbformat

from tools import ROOT
from tools.build.master_notebook import NOTEBOOK
from tools.grade.submissions import find_submissions
from tools.report import code_that_runs, safe_text
from tools.trusted import trusted_module

uploads = trusted_module("uploads")  # the upload as the grader reads it
STARTER = ROOT / "student" / NOTEBOOK
HTML_NAME, CSV_NAME = "similarity.html", "similarity.csv"
NOISE, GUARANTEE = 25, 30  # characters of tokenised code: shorter shared runs are noise (copydetect's k-grams)
TOP = 40  # pairs shown side by side


CODE_LIMIT = 1 << 20  # characters of one upload's code that are compared: a larger upload is cut, and flagged
VIEW_LIMIT = 32 << 10  # characters of each side of a side-by-side view


def starter_cells(starter_nb):
    """The student release's code cells, and its Markdown and raw cells, stripped: the handout's own text."""
    code = {cell.source.strip() for cell in starter_nb.cells if cell.cell_type == "code"}
    text = {cell.source.strip() for cell in starter_nb.cells if cell.cell_type != "code"}
    return code, text


def code_of(nb, handout=(frozenset(), frozenset())):
    """What the student's notebook runs, as one Python file (tools.report.code_that_runs.Found): its code cells in one
    canonical form, without the statements that do nothing, with the code it runs from strings decoded and the code
    it keeps in Markdown or raw cells; at most CODE_LIMIT characters.

    Cells exactly as the handout gives them (``handout``, from starter_cells) are left out, so that they never join a
    student's lines into a shared run; the handout's lines inside the student's cells are copydetect's boilerplate
    (see compare). IPython's magics and shell lines are left out."""
    return code_that_runs.normalise(nb, handout[0], handout[1], limit=CODE_LIMIT)


def read_upload(path, handout=(frozenset(), frozenset())):
    """The upload's code (code_of), or None when the grader would refuse it (it has no code to compare)."""
    path = pathlib.Path(path)
    if path.is_dir():
        folder = path
    else:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="hw1-similarity-upload-"))
    try:
        if folder != path:
            shutil.copyfile(path, folder / path.name)
        return code_of(uploads.normalise(folder), handout)
    except (uploads.BadUpload, OSError):  # refused, or unreadable: nothing to compare
        return None
    finally:
        if folder != path:
            shutil.rmtree(folder, ignore_errors=True)


def bounded_view(code_html, limit=VIEW_LIMIT):
    """One side of a side-by-side view (copydetect's escaped code with its highlight spans), cut to ``limit``
    characters at a line's end, with every span it leaves open closed."""
    if len(code_html) <= limit:
        return code_html
    cut = code_html.rfind("\n", 0, limit)
    cut = cut if cut > 0 else limit
    head = code_html[:cut]
    if head.rfind("<") > head.rfind(">"):  # never cut inside a tag
        head = head[: head.rfind("<")]
    open_spans = head.count("<span") - head.count("</span>")
    return head + "</span>" * max(0, open_spans) + f"\n… ({len(code_html) - len(head)} more characters not shown)"


def compare(codes, starter_code, top=TOP):
    """Ranks every pair of ``codes`` ({name: code}) by copydetect's overlap, the starter code as boilerplate.

    Returns (pairs, views): pairs is [(name_a, name_b, share_a, share_b, tokens)], most similar first, where
    share_a is the share of a's code (after the boilerplate) found in b; views maps (name_a, name_b) to the
    two codes as HTML, the shared parts highlighted, for the ``top`` pairs.
    """
    from copydetect import CopyDetector

    with tempfile.TemporaryDirectory(prefix="hw1-similarity-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "class").mkdir()
        (tmp / "starter").mkdir()
        names = sorted(codes)
        files = {}
        for i, name in enumerate(names):  # file names of our choosing: student names never reach a path
            files[name] = tmp / "class" / f"s{i:05d}.py"
            files[name].write_text(codes[name])
        (tmp / "starter" / "starter.py").write_text(starter_code)
        detector = CopyDetector(
            test_dirs=[str(tmp / "class")],
            boilerplate_dirs=[str(tmp / "starter")],
            extensions=["py"],
            noise_t=NOISE,
            guarantee_t=GUARANTEE,
            display_t=1.0,
            autoopen=False,
            silent=True,
            out_file=str(tmp / "unused.html"),
        )
        detector.run()
        by_file = {str(path): name for name, path in files.items()}
        index = {str(f): k for k, f in enumerate(detector.test_files)}
        matrix, overlap = detector.similarity_matrix, detector.token_overlap_matrix
        pairs = []
        for a_pos, a in enumerate(names):
            for b in names[a_pos + 1 :]:
                i, j = index.get(str(files[a])), index.get(str(files[b]))
                if i is None or j is None or matrix[i, j, 0] < 0:
                    continue
                share_a, share_b = float(matrix[i, j, 0]), float(matrix[i, j, 1])
                pairs.append((a, b, share_a, share_b, int(overlap[i, j])))
        pairs.sort(key=lambda p: (-(p[2] + p[3]) / 2, p[0], p[1]))
        views = {}
        shown = [p for p in pairs[:top] if p[4] > 0]
        if shown:
            # copydetect highlights the pairs above its display threshold: the lowest shown score, just below
            detector.conf.display_t = max(0.0, min(max(p[2], p[3]) for p in shown) - 1e-9)
            for _share_1, _, file_1, file_2, code_1, code_2, _ in detector.get_copied_code_list():
                a, b = by_file[file_1], by_file[file_2]
                code_1, code_2 = bounded_view(code_1), bounded_view(code_2)
                views[(a, b)] = (code_1, code_2)
                views[(b, a)] = (code_2, code_1)
    return pairs, views


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: code similarity</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 110em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }}
pre {{ background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: 12px; max-height: 40em; }}
.highlight-red {{ background: #ffc9c9; }} .highlight-green {{ background: #c9f2c9; }}
.note {{ background: #fff8d6; padding: .6em 1em; border-left: 4px solid #e0b800; }}
</style></head><body>
<h1>{title}: code similarity</h1>
<p class="note">A similarity is a reason to look, never a verdict. Short answers to the same question look alike,
answers that follow the handout closely look alike, and a copy rewritten by hand can look different. Read the
pair side by side, and talk to the students, before concluding anything.</p>
<p>{count} submissions with code, {pair_count} pairs compared in {seconds:.1f} s by
<a href="https://github.com/blingenf/copydetect">copydetect</a> (winnowed fingerprints of the tokenised code;
names and strings are abstracted, so renamed variables still match; runs shorter than {noise} characters of
tokenised code are ignored). What is compared is the code each notebook runs: code run from strings (exec, eval,
compile of literals, even decoded or decompressed ones) is decoded without running it, code kept in Markdown or raw
cells is read as code, statements that do nothing are dropped, and every cell is rewritten in one layout without
comments. It does not see code fetched from elsewhere at run time, code built by computation, or a copy rewritten
by hand. The student release's code cells are boilerplate: the handout's own lines never count.
<b>Share</b> is the part of one submission's own code (after the boilerplate) that is also in the other.{unread}</p>
<h2>Uploads to look at, whatever their scores</h2>
{flags}
<h2>All pairs, by mean share</h2>
<table><tr>{buckets}</tr><tr>{counts}</tr></table>
<p>A pair far above the rest of the class is worth a look; a class whose pairs all sit high shares the handout's
hints or a common source.</p>
<h2>The most similar pairs</h2>
<table><tr><th>#</th><th>submission A</th><th>submission B</th><th>share of A in B</th><th>share of B in A</th>
<th>shared tokens</th><th></th></tr>
{rows}
</table>
{views}
</body></html>
"""


def flags_section(found):
    """The uploads to look at whatever their scores: those that run code the comparison cannot see, those cut to
    CODE_LIMIT, and those whose code was found in strings or Markdown (compared as if written out)."""
    found = found or {}
    lines = []
    for key in sorted(found):
        f, notes = found[key], []
        if f.runs_hidden_code:
            notes.append(
                f"<b>runs hidden code</b>: {len(f.hidden)} call{'s' if len(f.hidden) > 1 else ''} that run code "
                "which the comparison cannot decode, e.g. <code>" + html.escape(f.hidden[0]) + "</code>"
            )
        if f.truncated:
            notes.append(f"<b>too large to compare in full</b>: its first {CODE_LIMIT // 1024} KB of code are compared")
        if f.decoded:
            notes.append(f"runs code from strings ({f.decoded}): decoded and compared as if written out")
        if f.markdown:
            notes.append(f"holds code in Markdown or raw cells ({f.markdown}): compared as code")
        if notes:
            lines.append(f"<li>{html.escape(key)}: {'; '.join(notes)}</li>")
    if not lines:
        return "<p>No upload runs hidden code, hides code in strings or Markdown, or is too large to compare.</p>"
    return "<ul>" + "\n".join(lines) + "</ul>"


def write_report(pairs, views, out, seconds, count, unread=(), found=None, title="Deep Learning Fall 2023, HW1"):
    """OUT/similarity.html and OUT/similarity.csv from compare()'s pairs; ``found``: each upload's
    code_that_runs.Found, for the flags at the top."""
    out = pathlib.Path(out)
    rows, sections = [], []
    for k, (a, b, share_a, share_b, tokens) in enumerate(pairs[:TOP], start=1):
        link = f'<a href="#pair-{k}">side by side</a>' if (a, b) in views else ""
        rows.append(
            f"<tr><td class=num>{k}</td><td>{html.escape(a)}</td><td>{html.escape(b)}</td>"
            f"<td class=num>{share_a:.0%}</td><td class=num>{share_b:.0%}</td><td class=num>{tokens}</td>"
            f"<td>{link}</td></tr>"
        )
        if (a, b) in views:
            code_a, code_b = views[(a, b)]  # copydetect escapes the code before highlighting it
            sections.append(
                f'<h3 id="pair-{k}">#{k}: {html.escape(a)} ({share_a:.0%}) and {html.escape(b)} ({share_b:.0%})</h3>'
                f'<div class="pair"><div><b>{html.escape(a)}</b><pre>{code_a}</pre></div>'
                f"<div><b>{html.escape(b)}</b><pre>{code_b}</pre></div></div>"
            )
    scores = [(a_share + b_share) / 2 for _, _, a_share, b_share, _ in pairs]
    bucket_counts = [sum(1 for x in scores if k / 10 <= x < (k + 1) / 10 or (k == 9 and x == 1.0)) for k in range(10)]
    buckets = "".join(f"<th>{10 * k}–{10 * k + 10}%</th>" for k in range(10))
    counts = "".join(f"<td class=num>{n}</td>" for n in bucket_counts)
    unread_text = ""
    if unread:
        shown = ", ".join(html.escape(name) for name in list(unread)[:10])
        unread_text = f" Not compared (unreadable, or refused by the grader, so they have no code): {shown}{' …' if len(unread) > 10 else ''}."
    page = PAGE.format(
        flags=flags_section(found),
        title=html.escape(title),
        count=count,
        pair_count=count * (count - 1) // 2,
        seconds=seconds,
        noise=NOISE,
        unread=unread_text,
        buckets=buckets,
        counts=counts,
        rows="\n".join(rows) or "<tr><td colspan=7>no pairs</td></tr>",
        views="\n".join(sections),
    )
    (out / HTML_NAME).write_text(page, encoding="utf-8")
    with open(out / CSV_NAME, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission_a", "submission_b", "share_of_a_in_b", "share_of_b_in_a", "shared_tokens"])
        for a, b, share_a, share_b, tokens in pairs:
            if share_a > 0 or share_b > 0:
                writer.writerow([safe_text.cell(a), safe_text.cell(b), f"{share_a:.4f}", f"{share_b:.4f}", tokens])
    return out / HTML_NAME


def similarity_report(submissions_folder, out, starter=STARTER):
    """Reads every upload, compares them, writes the report; returns (report path, pairs)."""
    started = time.monotonic()
    submissions, _, _ = find_submissions(submissions_folder, exclude=[out])
    starter_nb = nbformat.read(starter, as_version=4)
    handout = starter_cells(starter_nb)
    found, unread = {}, []
    for submission in submissions:
        read = read_upload(submission.path, handout)
        if read is None:
            unread.append(submission.key)
        else:
            found[submission.key] = read
    pairs, views = compare({k: f.code for k, f in found.items()}, code_of(starter_nb).code)
    path = write_report(pairs, views, out, time.monotonic() - started, len(found), unread, found)
    return path, pairs


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.report.similarity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("submissions", type=pathlib.Path, help="a folder of uploads, or Gradescope's export")
    parser.add_argument("out", type=pathlib.Path, help="where to write similarity.html and similarity.csv")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path, pairs = similarity_report(args.submissions, args.out)
    print(
        f"wrote {path}: {len(pairs)} pairs; the most similar: "
        + (
            f"{safe_text.terminal(pairs[0][0])} and {safe_text.terminal(pairs[0][1])} ({pairs[0][2]:.0%} / {pairs[0][3]:.0%})"
            if pairs
            else "none"
        )
    )


if __name__ == "__main__":
    main()
