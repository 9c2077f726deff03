"""The Z3 backend on hand-built IR models whose verdicts were worked out by hand (tests/irfixtures.py)."""
from __future__ import annotations

import pytest

from tests import irfixtures as F
from compiler import ir
from compiler.backends.z3 import prove
from compiler.backends.z3.symexec import EncodingError
from compiler.backends.z3.system import TransitionSystem
from compiler.results import PropertyResult


def results(model: ir.Model, **kw: object) -> dict[str, PropertyResult]:
    return {r.property: r for r in prove(model, **kw)}  # type: ignore[arg-type]


def steps(r: PropertyResult) -> list[tuple[str | None, str | None]]:
    assert r.trace is not None
    return [(s.instance, s.step) for s in r.trace.states[1:]]


def test_counter_invariant_violated_at_exact_depth() -> None:
    r = results(F.counter(3))["below"]
    assert (r.verdict, r.depth, r.method) == ("violated", 3, "bmc")
    assert steps(r) == [("ticker", "tick")] * 3
    assert r.trace is not None and [s.values["x"] for s in r.trace.states] == [0, 1, 2, 3]
    assert r.expected == "violated" and r.matches_expectation


def test_failed_check_aborts_the_step_and_ends_the_run() -> None:
    r = results(F.counter(3))["in_range"]
    assert (r.verdict, r.depth) == ("violated", 4)
    assert r.trace is not None
    last, before = r.trace.states[4], r.trace.states[3]
    assert last.step == "tick" and last.values == before.values  # the aborted step changed nothing


def test_lost_update_race_shortest_counterexample() -> None:
    r = results(F.race(locked=False))["no_lost_update"]
    assert (r.verdict, r.depth) == ("violated", 4)
    seq = steps(r)
    # Both reads come before both writes; each cpu reads then writes (independent steps may reorder).
    assert sorted(seq) == [("c[0]", "read"), ("c[0]", "write"), ("c[1]", "read"), ("c[1]", "write")]
    assert {s for _, s in seq[:2]} == {"read"}
    assert r.trace is not None and r.trace.states[-1].values["x"] == 1


def test_lock_prevents_the_race_and_induction_proves_it() -> None:
    rs = results(F.race(locked=True))
    assert rs["no_lost_update"].verdict == "proved"
    assert rs["no_lost_update"].method.startswith("k-induction (k=")
    assert rs["lock_discipline"].verdict == "proved"


def test_param_override_changes_the_instance() -> None:
    r = results(F.race(locked=False), params={"CPUS": 3})["no_lost_update"]
    # Two cpus racing lose an update, and the property needs every cpu done: 3 x (read, write).
    assert (r.verdict, r.depth) == ("violated", 6)
    assert r.trace is not None and r.trace.instances == ["c[0]", "c[1]", "c[2]"]


def test_bounded_but_false_property_is_not_proved() -> None:
    # x != 50 holds for 10 steps but fails at step 50: k-induction must not call it proved.
    r = results(F.late_violation(50), depth=10)["not_yet"]
    assert (r.verdict, r.depth, r.method) == ("holds", 10, "bmc")
    assert r.reason and "not k-inductive" in r.reason
    assert results(F.late_violation(50), depth=60)["not_yet"].depth == 50


def test_true_but_not_inductive_within_limit_stays_bounded() -> None:
    r = results(F.cycle_with_tail(20), max_k=12)["never_hi"]
    assert (r.verdict, r.depth) == ("holds", 40)


def test_true_property_proved_exactly_when_k_reaches_its_induction_depth() -> None:
    # By hand (irfixtures.cycle_with_tail): 18-inductive and not 17-inductive.
    assert results(F.cycle_with_tail(20), max_k=17)["never_hi"].verdict == "holds"
    r = results(F.cycle_with_tail(20), max_k=18)["never_hi"]
    assert (r.verdict, r.method) == ("proved", "k-induction (k=18)")


def test_two_inductive_property_proved_with_k2() -> None:
    r = results(F.follower())["y_small"]
    assert (r.verdict, r.method) == ("proved", "k-induction (k=2)")
    assert r.summary() == "proved (k-induction, k=2)"


def test_induction_never_goes_beyond_the_bounded_base_case() -> None:
    r = results(F.follower(), depth=0)["y_small"]  # base case covers depth 0 only: k <= 1
    assert r.verdict == "holds"


def test_abba_deadlock() -> None:
    r = results(F.abba())["deadlock"]
    assert (r.verdict, r.depth) == ("violated", 2)
    assert sorted(steps(r)) == [("a", "lock_l1"), ("b", "lock_l2")]
    assert not r.matches_expectation


def test_unlock_of_a_lock_not_held() -> None:
    r = results(F.bad_unlock())["lock_discipline"]
    assert (r.verdict, r.depth) == ("violated", 2)
    assert steps(r) == [("t", "work"), ("t", "unlock")]


def test_check_property_nothing_can_fail_is_proved_without_a_solver() -> None:
    r = results(F.counter(3))["lock_discipline"]
    assert r.verdict == "proved" and r.method.startswith("static")


def test_tiny_timeout_is_inconclusive_never_holds() -> None:
    rs = results(F.big(40), depth=40, timeout=1e-3)
    assert rs["sum"].verdict == "inconclusive"
    assert rs["sum"].reason and "timeout" in rs["sum"].reason
    assert rs["in_range"].verdict == "inconclusive"


@pytest.mark.parametrize("make", [F.counter, F.follower, F.abba, F.bad_unlock,
                                  lambda: F.race(False), lambda: F.race(True), lambda: F.late_violation(12)],
                         ids=["counter", "follower", "abba", "bad_unlock", "race", "race_locked", "late"])
def test_int_and_bitvector_encodings_agree(make) -> None:  # type: ignore[no-untyped-def]
    bv = [(r.property, r.verdict, r.depth, r.method) for r in prove(make(), depth=15, ints="bv")]
    li = [(r.property, r.verdict, r.depth, r.method) for r in prove(make(), depth=15, ints="int")]
    assert bv == li


def test_property_selection_and_unknown_name() -> None:
    assert [r.property for r in prove(F.counter(), properties=["in_range"])] == ["in_range"]
    with pytest.raises(KeyError):
        prove(F.counter(), properties=["nope"])


def test_bitvector_width_covers_intermediate_values() -> None:
    ts = TransitionSystem(F.big(4), {"CPUS": 4})
    assert ts.ints.width is not None and 2 ** (ts.ints.width - 1) > 100000 + 3 * 1000


def test_unhandled_ir_node_is_a_loud_error() -> None:
    class Strange(ir.Lit):
        pass

    m = F.counter()
    bad = ir.Property("odd", "invariant", Strange(True, ir.BOOL))
    model = ir.Model(m.name, m.title, m.path, m.source_hash, m.params, m.enums, m.vars, m.agents, m.initially,
                     (bad,))
    with pytest.raises(EncodingError, match="Strange"):
        prove(model)
