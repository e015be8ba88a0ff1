"""Grades a folder of submissions through the trusted route: Otter's CSV, each submission's results, a class report.

    make grade SUBMISSIONS=folder OUT=dir [REGRADE=name] [FORCE=1] [JOBS=n] [TIMEOUT=seconds]
    python -m tools.grade SUBMISSIONS OUT [--zip ZIP] [--jobs N] [--timeout S] [--regrade NAME]... [--force]

The package, like Otter's own ``otter/grade/``, is thin glue over its parts: ``submissions`` (what a folder
holds), ``pool`` (the workers, sandbox users, time limits and progress), ``gradebook`` (each submission's
folder, the resume state, Otter's CSV) and ``report`` (report.html); ``__main__`` runs them in turn
(``grade_folder``) and is the command line.

Every upload is graded exactly as Gradescope runs the zip (``python -m tools.grade.gradescope``: the zip's own
``run_autograder`` as root, the student's notebook as an unprivileged user, the verdict in a separate
root process). Needs Linux and root, and an environment the sandbox user can run (``VENV=/opt/hw1-venv``).

**What it grades.** SUBMISSIONS is either

* a folder of uploads: every ``*.ipynb`` and ``*.zip`` (Otter's export) in it, one row each, keyed by
  the file name (other files are listed and ignored); or
* Gradescope's "Export Submissions" folder: ``submission_metadata.yml`` beside one folder per
  submission (``submission_123456/hw1.ipynb``). Rows are keyed by the submission folder (every
  notebook there is named hw1.ipynb), and carry the submitters' names, SIDs and emails from the
  metadata (several for a group submission, joined by ``; ``). Each folder is handed to the route
  as the upload, as Gradescope would.

**How.** ``--jobs`` gradings at once (default: one per CPU this process may use, fewer when memory is
short: by the sum of one grading's limits, 6 GB by default, against the smaller of the available memory and the
container's cgroup limit; the log and the report say what it chose and why, and the throughput in
submissions per hour), each pinned to its own CPU, with its own sandbox user (``hw1grade<k>``,
claimed with a lock in ``/run/hw1-grade`` so that two batches on one machine never share a user: the
route kills every process of its user) and its own scratch folder. ``--timeout`` (default 600 s) bounds
the whole grading of one upload; on expiry the grading is stopped (its root side and every process of
its user) and the row says so. No submission stops the batch: a grading that fails or times out gets
its row with a status and a message. ``HW1_CELL_TIMEOUT`` and ``HW1_PHASE_TIMEOUT`` in the environment
reach the route (its limits per cell and for the notebook, 240 and 420 CPU seconds by default), and so do its
other limits (``HW1_PHASE_WALL_CAP``, ``HW1_STUDENT_MEMORY_MB``, ``HW1_STUDENT_DISK_MB``, ``HW1_TRUSTED_TIMEOUT``,
``HW1_TRUSTED_MEMORY_MB``) and ``HW1_SANDBOX=none`` /
``HW1_CGROUP=none``. Each student phase runs in the route's sandbox (bubblewrap's namespaces, a cgroup with one
CPU's quota); where bubblewrap cannot make it, the batch grades one at a time (``--jobs 1``) or not at all.

**What it writes** in OUT:

* ``OUT/<submission>/``: ``results.json`` (Gradescope's results, as the route wrote them) and
  ``results.pkl`` (Otter's GradingResults) when the route made a verdict, ``grading.log`` (the route's
  output and the bulk grader's last word), and ``grading.json`` (status, message, seconds, the upload's
  SHA-256, the autograder's id, the submitters);
* ``OUT/final_grades.csv``, in the layout of ``otter grade`` 7.0.0's CSV (built by Otter's own
  ``otter.grade.utils.merge_scores_to_df`` from the route's ``results.pkl``, as ``otter grade``'s host
  does), with one column added, ``flag``, and three more for a Gradescope export::

      file,q1a,q1b,q2a,...,q5_4,total_points_earned,percent_correct,grading_status,flag[,name,sid,email]
      points-per-question,2,2,3,...,6,73,1.0,--,--[,,,]
      alice.ipynb,2,0,3,...,6,57,0.7808,Completed,[,...]

  - ``file``: the submission's key: the upload's file name (as ``otter grade`` writes it) or the
    Gradescope submission folder;
  - one column per autograded question, in sorted order (Otter sorts them), with its points;
  - ``total_points_earned``; ``percent_correct``, the total over the points possible rounded to 4
    digits; ``grading_status``: ``Completed`` when the route graded the upload, otherwise one of
    ``Rejected: <sentence>`` (the route refused the upload and gave it 0: empty, not a notebook, a
    broken zip...; the sentence is the one the student sees), ``Timeout: <message>``, ``Failed:
    <message>`` (the route made no verdict, or reported a grader fault in its status field), ``Not graded:
    <message>`` (the batch was interrupted).
    A row that is not ``Completed`` has 0 in every question, as in ``otter grade``;
  - the first row, ``points-per-question``: each question's points, the points possible, 1.0, ``--``;
    then the submissions, sorted by ``file`` (Otter's order);
  - ``flag``: the route's integrity flags (``extra_data.flags``, e.g. training on the test set),
    joined by `` | ``; empty when there are none (``--`` on the points row);
  - ``name``, ``sid``, ``email``: only for a Gradescope export, the submitters from its metadata.
* ``OUT/report.html``: the class report, one self-contained page: statuses, the score
  distribution, each question's mean and full-marks rate, the hardest question (the lowest mean share
  of its points, then the lowest full-marks rate), the most frequent failure messages per question,
  the most frequent grading notes, and the flagged submissions.

**Resume.** A rerun grades only what is new or changed: a submission is skipped when its
``grading.json`` records the same upload (SHA-256 of its bytes; of its files for a folder) and the
same autograder (the zip's ``AUTOGRADER_ID`` stamp, which every result also carries), with a status
Completed, Rejected or Timeout (unless ``--timeout`` is now longer); Failed and Not graded rows are retried. ``--regrade NAME`` (repeatable)
regrades the submissions whose key, key without extension, or submitter name, SID or email is NAME;
``--force`` regrades all. The CSV and the report are rewritten from every row each time.

OUT is made root's only (mode 0700): it holds every student's results, and the students' notebooks,
graded on this machine, read whatever is open to other users. The exit status is 0, or 2 when a row
Failed or was not graded (the CSV and the report are written in either case), 130 when interrupted.
"""

DOC = __doc__  # the command's help (python -m tools.grade --help)
