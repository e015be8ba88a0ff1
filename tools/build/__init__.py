"""make release and what it is made of: the release (``release``: student/, solutions/, the autograder zip), the
master notebook's declarations (``master_notebook``), points (``points``), the lock (``lock``), the students'
leak scan (``leak_scan``), the written part's PDFs (``pdfs``) and a zip with other limits (``limits``)."""
