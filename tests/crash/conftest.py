"""The crash harness's figures: printed by each test (seen with -s) and repeated in a
"crash harness" section of the terminal summary, so that a passing CI run shows them too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_LINES: list[str] = []


@pytest.fixture
def crash_report() -> Callable[[str], None]:
    def report(line: str) -> None:
        print(line, flush=True)
        _LINES.append(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LINES:
        terminalreporter.section("crash harness")
        for line in _LINES:
            terminalreporter.write_line(line)
