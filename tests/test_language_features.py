"""The language features of issue 10, each run end to end through the real command line:
`extends "path"`, fn locals and return values, `replace` of one member, the C idioms, and
per-CPU timers with offline CPUs."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from compiler.cli import main
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.irqspec"
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> list[str]:
    diags = Diagnostics()
    load_model(str(path), {}, diags)
    return [d.code for d in diags.items if d.severity == "error"]


# ---------------------------------------------------------------- extends "relative/path.irqspec"


def test_a_patch_in_another_folder_extends_a_shipped_spec_by_path_and_proves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """S2 (Gowans's re-run loop) as a user's patch: the same text, but kept outside specs/ and
    naming its base by a path relative to itself."""
    folder = tmp_path / "my" / "fixes"
    folder.mkdir(parents=True)
    rel = os.path.relpath(SPECS / "gicv3_its_fasteoi.irqspec", folder)
    text = (SPECS / "fasteoi_rerun_loop.irqspec").read_text(encoding="utf-8")
    assert "extends gicv3_its_fasteoi;" in text
    patch = write(folder, "fasteoi_rerun_loop", text.replace("extends gicv3_its_fasteoi;", f'extends "{rel}";'))
    code, out = run(capsys, "prove", str(patch))
    assert code == 1, out  # bounded_rerun and affinity_respected are violated, as S2 expects
    # proved by the exhaustive search, or by k-induction when a loaded machine cuts the search
    assert re.search(r"no_lost_interrupt\s+proved", out), out
    code, out = run(capsys, "test", str(patch))
    assert code == 0, out
    assert "0 not met" in out


def test_extends_by_path_errors_are_located(tmp_path: Path) -> None:
    assert errors(write(tmp_path, "a", 'spec a extends "b.txt";\n')) == ["E203"]
    assert errors(write(tmp_path, "c", 'spec c extends "nowhere/b.irqspec";\n')) == ["E203"]
    assert errors(write(tmp_path, "d", 'spec d extends "d.irqspec";\n')) == ["E204"]


def test_a_patch_may_carry_its_bases_name(tmp_path: Path) -> None:
    """A cycle is the same file twice, not the same name: `my/x` extending `../x` is fine."""
    write(tmp_path, "x", "spec x; param CPUS = 1; var v: bool;\n")
    patch = write(tmp_path / "my", "x", 'spec x extends "../x.irqspec"; var w: bool;\n')
    assert errors(patch) == []


# ---------------------------------------------------------------- C idioms


def ir_text(path: Path) -> str:
    from compiler.irdump import dump

    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, [d.message for d in diags.items]
    return dump(model)


IDIOMS = """spec idioms;
param CPUS = 2;
type st = enum { A, B, C };
var s: st = A;
var n: 0..3 = 0;
lock l;
cpu c {
  switch (s) {
  case A:
    n++;
    break;
  case B:
  case C:
    --n;
    fallthrough;
  default:
    s = A;
  }
  scoped_guard(raw_spinlock_irqsave, &l) { if (unlikely(n == 3)) n--; }
  raw_spin_lock_irqsave(&l, flags);
  raw_spin_unlock_irqrestore(&l, flags);
  guard(raw_spinlock)(&l);
  if (likely(n != 0)) n = 2;
}
"""


def test_c_idioms_lower_to_what_they_mean(tmp_path: Path) -> None:
    dump = ir_text(write(tmp_path, "idioms", IDIOMS))
    # One switch is one evaluation: its three tests are one step, each case its own.
    assert "if (s == A):\n      goto 1\n    else:\n      if (s == B):\n        goto 2\n      else:\n        " \
           "if (s == C):\n          goto 2\n        else:\n          goto 3" in dump
    assert "n := (n + 1)" in dump and "n := (n - 1)" in dump
    # The guards take and release `l` in one step: after the unlikely() test, whichever branch
    # ran (written once, where the branches meet again).
    assert "      n := (n - 1)\n    l := -1\n    goto 5" in dump
    assert "      n := 2\n    l := -1\n    goto 7" in dump
    assert dump.count("l := -1") == 3
    assert "if (n == 3):" in dump and "if (n != 0):" in dump  # likely() and unlikely() are the condition


def test_switch_runs_on_as_in_c(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `break`, case ARMED runs on into FIRED: `fired` is then reached from ARMED.  The
    assert is violated only through the fallthrough (IDLE and FIRED alone never make fired 2)."""
    spec = write(tmp_path, "sw", """spec sw;
param CPUS = 1;
type state = enum { IDLE, ARMED, FIRED };
var st: state = IDLE;
var fired: 0..3 = 0;
cpu c {
  switch (st) {
  case IDLE: st = ARMED; break;
  case ARMED: fired++; fallthrough;
  case FIRED: fired++; break;
  }
  switch (st) {
  case ARMED: fired++; fallthrough;
  case FIRED: fired++; break;
  default: break;
  }
  assert ran_on: fired != 2;
}
expect ran_on: violated;
""")
    code, out = run(capsys, "test", str(spec))
    assert code == 0, out


def test_c_idiom_misuse_is_located(tmp_path: Path) -> None:
    body = {
        "fall": "switch (n) { case 0: n = 1; case 1: break; }",
        "dup": "switch (n) { case 0: break; case 0: break; }",
        "notconst": "switch (n) { case c: break; }",
        "wrongtype": "switch (n) { case true: break; }",
        "guardkind": "scoped_guard(mutex, &l) { }",
        "notlock": "guard(raw_spinlock)(&n);",
        "flags": "raw_spin_lock_irqsave(&l);",
        "incbool": "b++;",
        "likely2": "if (likely(n, n)) { }",
    }
    want = {"fall": "E409", "dup": "E202", "notconst": "E301", "wrongtype": "E301", "guardkind": "E209",
            "notlock": "E301", "flags": "E210", "incbool": "E301", "likely2": "E210"}
    for name, stmt in body.items():
        text = f"spec {name}; param CPUS = 1; var n: 0..3 = 0; var b: bool; lock l; cpu c {{ {stmt} }}\n"
        assert errors(write(tmp_path, name, text)) == [want[name]], name


# ---------------------------------------------------------------- fn locals and results

WITH_HELPER = """spec with_helper;
param CPUS = 2;
type count = 0..2;
var inprogress: bool = false;
var handled: count = 0;
lock desc_lock;

fn irq_can_handle_pm(): bool {
  bool busy = inprogress;
  if (busy)
    return false;
  return true;
}

fn next(n: count): count {
  count m = n;
  if (m < 2) m++;
  return m;
}

fn bump() { handled = next(handled); }

cpu c {
  for (;;) {
  idle:
    raw_spin_lock(&desc_lock);
    if (!irq_can_handle_pm()) {
      raw_spin_unlock(&desc_lock);
      continue;
    }
    inprogress = true;
    raw_spin_unlock(&desc_lock);
    bump();
    raw_spin_lock(&desc_lock);
    assert alone: inprogress;
    inprogress = false;
    raw_spin_unlock(&desc_lock);
  }
}
cover both_handled: handled == 2;
expect alone: holds;
expect both_handled: covered;
"""

# The same but for the local: a finished call resets its locals, so `busy` adds no state.
WITHOUT_LOCAL = WITH_HELPER.replace("spec with_helper;", "spec without_local;").replace(
    "  bool busy = inprogress;\n  if (busy)", "  if (inprogress)")


def _states(out: str) -> set[int]:
    return {int(n) for n in re.findall(r"exhaustive search, (\d+) states", out)}


def test_a_dead_local_adds_no_state(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_ = write(tmp_path, "with_helper", WITH_HELPER)
    without = write(tmp_path, "without_local", WITHOUT_LOCAL)
    code, out_with = run(capsys, "test", str(with_))
    assert code == 0, out_with
    code, out_without = run(capsys, "test", str(without))
    assert code == 0, out_without
    _, out_with = run(capsys, "prove", str(with_))
    _, out_without = run(capsys, "prove", str(without))
    assert _states(out_with) and _states(out_with) == _states(out_without), (out_with, out_without)


def test_locals_reset_on_return_and_results_are_stored(tmp_path: Path) -> None:
    dump = ir_text(write(tmp_path, "with_helper", WITH_HELPER))
    assert "state cpu.irq_can_handle_pm.busy: bool[cpu] = false" in dump
    assert "state cpu.irq_can_handle_pm.return: bool[cpu] = false" in dump
    assert "cpu.irq_can_handle_pm.busy[self] := false" in dump  # the reset on return
    assert "handled := cpu.next.return[self]" in dump


def test_value_calls_in_loops_and_returns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, "loops", """spec loops;
param CPUS = 1;
type count = 0..3;
var n: count = 0;
fn more(): bool { return n < 3; }
fn again(): bool { return more(); }
cpu c {
  while (again()) n++;
  do { assert at_most_three: n <= 3; } while (!more());
  assert done: n == 3;
}
expect at_most_three: holds;
expect done: holds;
""")
    code, out = run(capsys, "test", str(spec))
    assert code == 0, out


def test_fn_result_and_local_misuse_is_located(tmp_path: Path) -> None:
    head = "param CPUS = 1; type count = 0..3; var n: count = 0; var b: bool;\n"
    cases = {
        "noreturn": ("fn f(): bool { if (b) return true; }", "if (f()) n = 1;", "E411"),
        "inexpr": ("fn f(): bool { return b; }", "if (f() && b) n = 1;", "E406"),
        "inarith": ("fn f(): count { return n; }", "n = f() + 1;", "E406"),
        "voidvalue": ("fn f() { return 1; }", "f();", "E301"),
        "valuevoid": ("fn f(): bool { return; }", "b = f();", "E301"),
        "notbool": ("fn f(): count { return n; }", "if (f()) n = 1;", "E301"),
        "wrongtype": ("fn f(): bool { return n; }", "b = f();", "E301"),
        "twice": ("fn f() { bool x; bool x; }", "f();", "E202"),
        "asparam": ("fn f(x: bool) { bool x; }", "f(b);", "E202"),
        "inagent": ("", "bool x;", "E406"),
        "int": ("fn f() { int x = 0; }", "f();", "E201"),
    }
    for name, (fn, stmt, code) in cases.items():
        text = f"spec {name}; {head}{fn}\ncpu c {{ {stmt} }}\n"
        assert errors(write(tmp_path, name, text)) == [code], name


# ---------------------------------------------------------------- replace of one member

MEMBER_BASE = """spec mbase;
param CPUS = 1;
device nic { var n: 0..2 = 0; step fire { n = 1; } step other when (n == 2) { n = 0; } }
irqdesc desc { lock lock; var pending: bool; }
thread t { var done: bool; done = true; }
invariant n_small: nic.n != 2;
"""


def test_replace_one_step_and_one_var_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "mbase", MEMBER_BASE)
    patch = write(tmp_path / "p", "mpatch", """spec mpatch extends "../mbase.irqspec";
replace step nic.fire when (n == 0) { n = 2; }
replace var desc->pending: bool = true;
var nic.extra: bool;
expect n_small: violated;
""")
    dump = ir_text(patch)
    assert "state desc.pending: bool = true" in dump and "state nic.extra: bool = false" in dump
    # The step is swapped where it was (before `other`), with the patch's guard and body.
    assert dump.index("step fire from 0:  // line 2: replace step nic.fire") < dump.index("step other")
    assert "nic.n := 1" not in dump and "nic.n := 2" in dump
    code, out = run(capsys, "test", str(patch))
    assert code == 0, out
    # The base, unpatched, never reaches n == 2.
    code, out = run(capsys, "prove", str(tmp_path / "mbase.irqspec"))
    assert code == 0 and re.search(r"n_small\s+proved", out), out


def test_member_misuse_is_located(tmp_path: Path) -> None:
    write(tmp_path, "mbase", MEMBER_BASE)
    cases = {
        "missing": ("replace step nic.nope { n = 2; }", "E205"),
        "kind": ("replace var nic.fire: bool;", "E205"),
        "stepofblock": ("step desc.x { }", "E205"),
        "lockofdevice": ("lock nic.l;", "E205"),
        "thread_step": ("step t.go { }", "E205"),
        "noowner": ("replace step nosuch.fire { }", "E205"),
        "again": ("var nic.n: bool;", "E202"),
        "twice": ("var nic.a: bool; var nic.a: bool;", "E202"),
    }
    for name, (decl, code) in cases.items():
        assert errors(write(tmp_path, name, f"spec {name} extends mbase;\n{decl}\n")) == [code], name


# ---------------------------------------------------------------- bit flags

FLAGS = """spec flags;
param CPUS = 2;
type irqs = enum { IRQS_PENDING, IRQS_REPLAY, IRQS_WAITING };
irqdesc desc { lock lock; var istate: bool[irqs]; }
cpu c {
  raw_spin_lock(&desc->lock);
  desc->istate = 0;
  desc->istate |= IRQS_PENDING | IRQS_WAITING;
  desc->istate &= ~IRQS_WAITING;
  assert set_and_clear: (desc->istate & IRQS_PENDING) && !(desc->istate & (IRQS_WAITING | IRQS_REPLAY));
  desc->istate = IRQS_REPLAY | IRQS_WAITING;
  assert exact: !(desc->istate & IRQS_PENDING) && (desc->istate & IRQS_REPLAY) && (desc->istate & IRQS_WAITING);
  desc->istate &= IRQS_REPLAY;
  assert kept_only: (desc->istate & IRQS_REPLAY) && !(desc->istate & (IRQS_PENDING | IRQS_WAITING));
  raw_spin_unlock(&desc->lock);
  yield;
  assert racy: !(desc->istate & IRQS_PENDING);
  desc->istate |= IRQS_PENDING;
}
expect set_and_clear: holds;
expect exact: holds;
expect kept_only: holds;
expect racy: violated;
"""


def test_bit_flags_mean_what_c_means(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Under the lock every assert holds, which a wrong bit in any store would break; `racy` is
    violated only because the other CPU sets PENDING, without the lock, between this one's
    unlock and its assert."""
    code, out = run(capsys, "test", str(write(tmp_path, "flags", FLAGS)))
    assert code == 0, out
    dump = ir_text(tmp_path / "flags.irqspec")
    assert "(desc.istate[IRQS_WAITING] || desc.istate[IRQS_REPLAY])" in dump or \
           "(desc.istate[IRQS_REPLAY] || desc.istate[IRQS_WAITING])" in dump


def test_bit_flag_misuse_is_located(tmp_path: Path) -> None:
    head = ("param CPUS = 1; type irqs = enum { A, B }; type other = enum { X }; var w: bool[irqs]; "
            "var n: 0..3 = 0; var b: bool;\n")
    cases = {
        "intand": "if (n & A) n = 1;",
        "boolor": "b = b | b;",
        "tilde": "b = ~A;",
        "otherenum": "w |= X;",
        "plus": "w += A;",
        "precedence": "if (w & A == 0) n = 1;",
    }
    for name, stmt in cases.items():
        text = f"spec {name}; {head}cpu c {{ {stmt} }}\n"
        assert errors(write(tmp_path, name, text)) == ["E301"], name


# ---------------------------------------------------------------- per-CPU timers and offline CPUs

TIMERS_SPEC = """spec timers "a per-CPU sync timer, and CPU hot-unplug";
param CPUS = 2;
var work: bool[cpu];
var synced: 0..2 = 0;
fn local_sync() {
  if (work[smp_processor_id()]) {
    work[smp_processor_id()] = false;
    if (synced < 2)
      synced++;
  }
}
cpu c {
  var online: bool = true;
  timer sync_timer = local_sync;
  for (;;) {
  idle:
    await (work[c] && !timer_pending(&sync_timer));
    mod_timer(&sync_timer);
  }
}
thread request {
  var t: cpu = 0;
  t = any x: cpu;
  work[t] = true;
}
thread unplug {
  cpu[1].online = false;
}
invariant work_done: quiescent ==> forall i: cpu :: !work[i];
cover synced_by_timer: synced == 1;
expect work_done: violated;
"""


def test_a_timer_fires_on_its_cpu_and_an_offline_cpu_takes_no_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the timer clears `work` (so `synced_by_timer` is covered through it); unplugging CPU 1
    with its sync armed leaves the work undone in a quiescent state; without the unplug it is
    always done."""
    base = write(tmp_path, "timers", TIMERS_SPEC)
    code, out = run(capsys, "test", str(base))
    assert code == 0, out
    fixed = write(tmp_path, "timers_no_unplug", """spec timers_no_unplug extends timers;
replace thread unplug { }
replace expect work_done: holds;
""")
    code, out = run(capsys, "test", str(fixed))
    assert code == 0, out
    dump = ir_text(base)
    assert "agent thread sync_timer[cpu]" in dump
    assert dump.count("assume[when] cpu.online[self]") == 7  # every step of the CPU and its timer


def test_timer_misuse_is_located(tmp_path: Path) -> None:
    head = "param CPUS = 2; var b: bool; fn f() { b = true; } fn g(x: bool) { b = x; }\n"
    cases = {
        "inthread": ("thread t { timer tt = f; b = true; }", "E406"),
        "notatimer": ("cpu c { mod_timer(&b); }", "E301"),
        "badfn": ("cpu c { timer t = nosuch; }", "E201"),
        "params": ("cpu c { timer t = g; }", "E210"),
        "addon": ("cpu c { timer t = f; add_timer_on(&t); }", "E210"),
        "online": ("thread t { b = cpu_online(); }", "E210"),
        "clash": ("cpu c { timer t = f; } thread t { b = true; }", "E202"),
        "clash2": ("thread t { b = true; } cpu c { timer t = f; }", "E202"),
    }
    for name, (decl, code) in cases.items():
        assert errors(write(tmp_path, name, f"spec {name}; {head}{decl}\n")) == [code], name


# ---------------------------------------------------------------- both backends mean the same


FEATURE_SPECS = {"idioms": IDIOMS, "with_helper": WITH_HELPER, "flags": FLAGS, "timers": TIMERS_SPEC}


@pytest.mark.parametrize("name", sorted(FEATURE_SPECS))
def test_z3_and_the_simulator_agree_on_the_new_features(name: str, tmp_path: Path) -> None:
    """The checks of tests/test_crosscheck.py, on a spec that uses each new feature: the same
    violations at the same depths, and every Z3 counterexample replays in the simulator."""
    from tests.test_crosscheck import both, test_explore_and_bmc_agree, test_z3_counterexamples_replay_in_simulator

    path = write(tmp_path, name, FEATURE_SPECS[name])
    case = f"language-feature-{name}"
    both(case, path)
    test_explore_and_bmc_agree(case, path)
    test_z3_counterexamples_replay_in_simulator(case, path)
