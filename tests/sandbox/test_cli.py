"""`tooltune sandbox ...` through the real command line: unknown users and apps are usage errors."""

from __future__ import annotations

from tests.bench.cli import invoke


def test_list_cases_refuses_unknown_users_and_apps(capsys) -> None:
    code, out, err = invoke(["sandbox", "list-cases", "--user", "nobody"], capsys)
    assert code == 2 and "nobody" in err and "0 cases" not in out
    code, out, err = invoke(["sandbox", "list-cases", "--app", "teleporter"], capsys)
    assert code == 2 and "teleporter" in err
    code, out, _ = invoke(["sandbox", "list-cases", "--user", "Maya Chen"], capsys)
    assert code == 0 and out.strip().splitlines()[-1] != "0 cases" and "@maya_chen" in out
