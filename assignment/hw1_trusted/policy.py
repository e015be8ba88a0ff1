"""The grading policy that students are told about: one source for the notebook's text and the grader.

The build writes these values into the student notebook's text, and the checks (bars), the route
(time limits) and the verdict (when per-question results become visible) read them from here.
"""

P4_BARS = (0.70, 0.87)  # q4_acc: FashionMNIST test accuracy, half of the question's points for each bar
P5_ACCURACY_BAR = 0.25  # q5_4: MNIST test accuracy of the student's own trained weights

# Time limits count CPU seconds of the notebook's processes (what an infinite loop burns), not the wall clock, so
# that a busy grading machine never costs a point; the wall clock is only a last resort, several times above what
# the reference needs (28 s on one CPU), within Gradescope's 10 minutes for the whole grading. A notebook stopped
# at that cap while the machine starved it of CPU is not graded (a grader fault), and a rerun grades it again.
CELL_TIMEOUT = 240  # CPU seconds per cell (and per probe) while grading; HW1_CELL_TIMEOUT overrides it for tests
PHASE_TIMEOUT = 420  # CPU seconds for the student's whole notebook; HW1_PHASE_TIMEOUT overrides it for tests
PHASE_WALL_CAP = 500  # seconds on the wall clock for the whole notebook: the last resort; HW1_PHASE_WALL_CAP
# What the student's notebook may write while it is graded: its folder, /tmp, /var/tmp and /dev/shm share one
# filesystem of this size (a tmpfs of its own per grading, counted in its memory); HW1_STUDENT_DISK_MB overrides it
STUDENT_DISK_MB = 1024
OUTPUT_KEPT_KB = 1024  # the end of the notebook's printed output that the grader keeps in its log

# When students see per-question results on Gradescope: "after_published" (when the instructor publishes
# grades) or "after_due_date". The visible "Grading notes" entry is shown at once either way.
HIDDEN_RESULTS_VISIBILITY = "after_published"
