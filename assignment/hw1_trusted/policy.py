"""The grading policy that students are told about: one source for the notebook's text and the grader.

The build writes these values into the student notebook's text, and the checks (bars), the route
(time limits) and the verdict (when per-question results become visible) read them from here.
"""

P4_BARS = (0.70, 0.87)  # q4_acc: FashionMNIST test accuracy, half of the question's points for each bar
P5_ACCURACY_BAR = 0.25  # q5_4: MNIST test accuracy of the student's own trained weights

CELL_TIMEOUT = 240  # seconds per cell (and per probe) while grading; HW1_CELL_TIMEOUT overrides it for tests
PHASE_TIMEOUT = 420  # seconds for the student's whole notebook; HW1_PHASE_TIMEOUT overrides it for tests
# What the student's notebook may write while it is graded: its folder, /tmp, /var/tmp and /dev/shm share one
# filesystem of this size (a tmpfs of its own per grading, counted in its memory); HW1_STUDENT_DISK_MB overrides it
STUDENT_DISK_MB = 1024
OUTPUT_KEPT_KB = 1024  # the end of the notebook's printed output that the grader keeps in its log

# When students see per-question results on Gradescope: "after_published" (when the instructor publishes
# grades) or "after_due_date". The visible "Grading notes" entry is shown at once either way.
HIDDEN_RESULTS_VISIBILITY = "after_published"
