"""What instructors and TAs read: the similarity report (``similarity``, over ``code_that_runs``), the merged
gradebook (``merge_grades``), and text a student chose, made safe to show (``safe_text``)."""
