"""results.pkl, Otter's GradingResults for ``otter grade``'s host, written without importing Otter.

Importing ``otter.test_files`` imports pandas, nbconvert and Otter's runner: about 1 s of every verdict, for a
pickle of four plain classes. This writes the same pickle by name: each object is rebuilt on load as pickle
rebuilds any plain instance (``copyreg._reconstructor``, then its ``__dict__``), with the attributes that
``GradingResults.from_ottr_json`` and ``set_plugin_data`` give it. tests/test_checks_unit.py holds the loaded
object to Otter's own, attribute by attribute, and to what Otter's ``to_dict`` and scoring read from it.
"""

import copyreg
import io
import pickle
from typing import Any

GRADING_RESULTS = ("otter.test_files", "GradingResults")
TEST_FILE = ("otter.test_files.ottr_test", "OttrTestFile")
TEST_CASE = ("otter.test_files.abstract_test", "TestCase")
TEST_CASE_RESULT = ("otter.test_files.abstract_test", "TestCaseResult")


class _Class:
    """An Otter class, by its module and name; never imported here."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class _Instance:
    """An instance of an Otter class: its class and its ``__dict__``."""

    def __init__(self, cls: tuple[str, str], state: dict[str, Any]) -> None:
        self.cls, self.state = _Class(*cls), state


class _Pickler(pickle._Pickler):  # the Python pickler: its save_global can name a class it never imports
    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, _Instance):  # what protocol 2 makes of a plain object without __reduce__ of its own
            return copyreg._reconstructor, (obj.cls, object, None), obj.state  # type: ignore[attr-defined]
        if isinstance(obj, _Class):
            return obj.name  # a global: save_global below
        return NotImplemented

    def save_global(self, obj: object, name: str | None = None) -> None:
        # the pure-Python pickler's own methods, which typeshed does not declare
        if not isinstance(obj, _Class):
            super().save_global(obj, name)  # type: ignore[misc]
            return
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())  # type: ignore[attr-defined]
        self.memoize(obj)  # type: ignore[attr-defined]


def grading_results(files: list[dict[str, Any]], plugin_data: dict[str, Any]) -> _Instance:
    """What ``GradingResults.from_ottr_json`` then ``set_plugin_data`` build, for files of the Ottr JSON form
    ({"filename", "points": None, "test_case_results": [{"test_case": {...}, "error", "passed"}]})."""
    test_files = {}
    for tfr in files:
        if tfr["points"] is not None:
            raise ValueError("only per-case points are written")
        cases, results = [], []
        for tcr in tfr["test_case_results"]:
            tc = tcr["test_case"]
            if type(tc["points"]) not in (int, float):  # Otter asserts it too
                raise TypeError(f"Invalid point type: {type(tc['points'])}")
            case = _Instance(
                TEST_CASE,
                {
                    "name": tc["name"],
                    "body": tc["code"],
                    "hidden": tc["hidden"],
                    "points": tc["points"],
                    "success_message": tc["success_message"],
                    "failure_message": tc["failure_message"],
                },
            )
            cases.append(case)
            results.append(
                _Instance(TEST_CASE_RESULT, {"test_case": case, "message": tcr["error"], "passed": tcr["passed"]})
            )
        name = tfr["filename"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        test_files[name] = _Instance(
            TEST_FILE,
            {
                "name": name,
                "path": tfr["filename"],
                "test_cases": cases,
                "all_or_nothing": False,
                "test_case_results": results,
                "_score": None,
            },
        )
    return _Instance(
        GRADING_RESULTS,
        {
            "results": test_files,
            "output": None,
            "all_hidden": False,
            "pdf_error": None,
            "notebook": None,
            "_catastrophic_error": None,
            "_plugin_data": dict(plugin_data),
        },
    )


def dumps(files: list[dict[str, Any]], plugin_data: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(grading_results(files, plugin_data))
    return buffer.getvalue()
