"""The data builders: every submission the suite grades or runs, built from the student notebook.

``filling`` fills the student notebook's answer cells; ``students`` holds the correct styles and the one-mistake
mutants; ``cheats`` the cheats written as a student who has read the zip would; ``graded`` what the suite grades
through the route, with the scores each must get. Run as modules from the repository's root, e.g.
``python -m tests.corpus.cheats --help``.
"""
