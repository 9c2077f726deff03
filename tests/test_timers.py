"""Per-CPU timers as the kernel has them (compiler/timers.py, docs/language.md "Per-CPU timers"):
a timer object belongs to a CPU and is queued on a CPU, whose timer softirq runs its callback;
`run_timer_softirq();` says where a CPU takes that softirq.  Each spec here is small and is run
through the real pipeline: the command line, the exhaustive search and Z3."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler import ir, symmetry
from compiler.cli import main
from compiler.irdump import dump
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics, render_all

ROOT = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.irqspec"
    path.write_text(text, encoding="utf-8")
    return path


def model_of(path: Path) -> ir.Model:
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, render_all(diags)
    return model


def errors(path: Path) -> list[str]:
    diags = Diagnostics()
    load_model(str(path), {}, diags)
    return [d.code for d in diags.items if d.severity == "error"]


def verdicts(out: str, spec: str) -> dict[str, str]:
    """`property -> "verdict depth/method"` from the summary table of `irqc prove`."""
    rows = re.findall(rf"^{spec}\s+(\S+)\s+(\S+)\s+(.+?)\s+\d+\.\d+$", out, re.M)
    return {p: f"{v} {how}" for p, v, how in rows}


# ---------------------------------------------------------------- (a) 08fb624802d8

# imsic_remote_sync() on CPU c changes CPU k's lpriv state, which only CPU k's own
# __imsic_local_sync() applies, and starts the sync timer of CPU k's lpriv.  Before 08fb624802d8
# __imsic_local_timer_start() queued it with add_timer_on(&lpriv->timer, smp_processor_id()): on
# CPU c, whose callback then syncs CPU c's own lpriv (this_cpu_ptr), not CPU k's.
SYNC_WRONG_CPU = """spec sync_wrong_cpu "the sync timer of CPU k queued on the initiating CPU";

param CPUS = 2;
var dirty: bool[cpu] = false;       // CPU k's lpriv has changes only CPU k can apply

fn local_sync() {                   // imsic_local_timer_callback(): this_cpu_ptr(imsic->lpriv)
  dirty[smp_processor_id()] = false;
}

fn timer_start(k: cpu) {            // __imsic_local_timer_start(lpriv of CPU k, ...)
  if (!timer_pending(&cpu[k].sync_timer))
    add_timer_on(&cpu[k].sync_timer, smp_processor_id());
}

fn remote_sync() {                  // __imsic_remote_sync(lpriv of CPU k, k)
  cpu k;
  k = any x: cpu where x != smp_processor_id();
  dirty[k] = true;
  timer_start(k);
}

cpu c {
  var asked: bool = false;
  timer sync_timer = local_sync;
  for (;;) {
  idle:
    atomic {
      either {
        run_timer_softirq();
      } or {
        await (!asked);
        asked = true;
        remote_sync();
      }
    }
  }
}

invariant synced: quiescent ==> forall i: cpu :: !dirty[i];
expect synced: violated;
"""

SYNC_RIGHT_CPU = """spec sync_right_cpu "08fb624802d8: queued on the CPU to sync" extends sync_wrong_cpu;

replace fn timer_start(k: cpu) {
  if (!timer_pending(&cpu[k].sync_timer))
    add_timer_on(&cpu[k].sync_timer, k);
}

replace expect synced: holds;
"""


@pytest.fixture
def sync_specs(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path, "sync_wrong_cpu", SYNC_WRONG_CPU), write(tmp_path, "sync_right_cpu", SYNC_RIGHT_CPU)


def test_a_timer_queued_on_the_initiating_cpu_loses_the_sync_and_the_fix_holds(
        sync_specs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    wrong, right = sync_specs
    code, out = run(capsys, "prove", str(wrong), str(right))
    assert code == 1, out
    assert verdicts(out, "sync_wrong_cpu")["synced"] == "violated depth 4", out
    assert verdicts(out, "sync_right_cpu")["synced"].startswith("proved exhaustive search"), out
    # CPU 0 queues CPU 1's timer on itself and runs it: CPU 1's change is never applied
    assert "cpu.sync_timer[1][0]=1" in out, out
    code, out = run(capsys, "test", str(wrong), str(right))
    assert code == 0, out


@pytest.mark.parametrize("which", ["wrong", "right"])
def test_the_search_and_z3_agree_on_the_sync_timer_specs(which: str, sync_specs: tuple[Path, Path]) -> None:
    """Same verdicts and depths from the exhaustive search and Z3 BMC; every Z3 counterexample
    replays in the simulator; random runs satisfy Z3's transition relation."""
    from tests.test_crosscheck import (both, test_explore_and_bmc_agree, test_random_run_satisfies_transition_relation,
                                       test_z3_counterexamples_replay_in_simulator)

    path = sync_specs[0] if which == "wrong" else sync_specs[1]
    case = f"timers-sync-{which}"
    b = both(case, path)
    test_explore_and_bmc_agree(case, path)
    test_z3_counterexamples_replay_in_simulator(case, path)
    test_random_run_satisfies_transition_relation(case, path, 1)
    z3_synced = next(r for r in b.results if r.property == "synced")
    if which == "wrong":
        assert b.explored.violations["synced"][0] == 4
        assert (z3_synced.verdict, z3_synced.depth) == ("violated", 4)
    else:
        assert b.explored.complete and "synced" not in b.explored.violations
        assert z3_synced.verdict != "violated"


def test_only_a_timer_queued_elsewhere_gets_a_queued_on_row(sync_specs: tuple[Path, Path]) -> None:
    """The buggy spec may queue CPU k's timer on another CPU: `cpu.sync_timer` is a row per
    timer (bool[cpu][cpu]); the fixed one always queues it on its owner: one bool per timer.
    With run_timer_softirq() no timer has an agent, and neither lowering pins a CPU."""
    wrong, right = (model_of(p) for p in sync_specs)
    assert "state cpu.sync_timer: bool[cpu][cpu] = false" in dump(wrong)
    assert "state cpu.sync_timer: bool[cpu] = false" in dump(right)
    for m in (wrong, right):
        assert [a.name for a in m.agents] == ["cpu"]
        a = symmetry.analyse(m)
        assert a.symmetric, a.reasons
        assert not any("sync_timer" in p.text for p in a.pins), a.pins


# ---------------------------------------------------------------- (b) where callbacks run

SOFTIRQ_WHERE = """spec softirq_where "the timer softirq runs where the CPU takes it";

param CPUS = 2;
var irqs_off: bool[cpu] = false;   // CPU i between local_irq_disable() and local_irq_enable()
var ran_on: bool[cpu] = false;     // the callback ran on CPU i
var in_irqs_off: bool = false;     // the callback ran on a CPU with interrupts off

fn cb() {
  ran_on[smp_processor_id()] = true;
  if (irqs_off[smp_processor_id()])
    in_irqs_off = true;
}

cpu c {
  timer t = cb;
  for (;;) {
  idle:
    atomic {
      either { run_timer_softirq(); } or { irqs_off[c] = true; }
    }
    irqs_off[c] = false;
  }
}

thread arm {
  add_timer_on(&cpu[1].t, 0);      // CPU 1's timer, queued on CPU 0
}

invariant only_where_queued: !ran_on[1];
invariant never_with_irqs_off: !in_irqs_off;
cover ran_where_queued: ran_on[0];
expect only_where_queued: holds;
expect never_with_irqs_off: holds;
expect deadlock: holds;
"""

# The same code without run_timer_softirq(): the timer is an agent of its own, one instance per
# CPU, whose steps fall anywhere between its CPU's steps (it still runs on the CPU it is queued on).
SOFTIRQ_ANYWHERE = """spec softirq_anywhere "timer agents" extends softirq_where;

replace cpu c {
  timer t = cb;
  for (;;) {
  idle:
    irqs_off[c] = true;
    irqs_off[c] = false;
  }
}

replace expect never_with_irqs_off: violated;
"""


def test_the_softirq_runs_only_timers_queued_on_its_cpu_and_only_where_the_cpu_takes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = write(tmp_path, "softirq_where", SOFTIRQ_WHERE)
    anywhere = write(tmp_path, "softirq_anywhere", SOFTIRQ_ANYWHERE)
    code, out = run(capsys, "test", str(where), str(anywhere))
    assert code == 0, out
    code, out = run(capsys, "prove", str(where), str(anywhere))
    assert verdicts(out, "softirq_where")["ran_where_queued"].startswith("covered"), out
    assert verdicts(out, "softirq_anywhere")["only_where_queued"].startswith("proved"), out
    assert verdicts(out, "softirq_anywhere")["never_with_irqs_off"].startswith("violated"), out
    assert [a.name for a in model_of(where).agents] == ["cpu", "arm"]
    assert [a.name for a in model_of(anywhere).agents] == ["cpu", "t", "arm"]


@pytest.mark.parametrize("name", ["softirq_where", "softirq_anywhere"])
def test_the_search_and_z3_agree_on_where_callbacks_run(name: str, tmp_path: Path) -> None:
    from tests.test_crosscheck import both, test_explore_and_bmc_agree, test_z3_counterexamples_replay_in_simulator

    write(tmp_path, "softirq_where", SOFTIRQ_WHERE)
    path = write(tmp_path, "softirq_anywhere", SOFTIRQ_ANYWHERE) if name == "softirq_anywhere" else \
        tmp_path / "softirq_where.irqspec"
    case = f"timers-{name}"
    both(case, path)
    test_explore_and_bmc_agree(case, path)
    test_z3_counterexamples_replay_in_simulator(case, path)


# ---------------------------------------------------------------- arming, deleting, offline CPUs

QUEUEING = """spec queueing "mod_timer() queues on the caller unless pending; del_timer() wherever it is";

param CPUS = 2;
var ran_on: bool[cpu] = false;
var deleted: bool = false;

fn cb() { ran_on[smp_processor_id()] = true; }

cpu c {
  var armed: bool = false;
  timer t = cb;
  for (;;) {
  idle:
    atomic {
      either {
        run_timer_softirq();
      } or {
        await (c == 0 && !armed);   // CPU 0 arms CPU 1's timer: queued on CPU 0, unless pending
        armed = true;
        mod_timer(&cpu[1].t);
      }
    }
  }
}

thread other {
  add_timer_on(&cpu[1].t, 1);      // queued on CPU 1, unless pending
  del_timer(&cpu[1].t);            // off whichever CPU it is queued on
  deleted = true;
}

invariant one_queue: !(cpu[1].t[0] && cpu[1].t[1]);
invariant gone: (deleted && !cpu[0].armed) ==> !timer_pending(&cpu[1].t);
invariant own_idle: !timer_pending(&cpu[0].t);
cover on_0: ran_on[0];
cover on_1: ran_on[1];
cover on_0_not_1: quiescent && ran_on[0] && !ran_on[1];
cover on_1_not_0: quiescent && ran_on[1] && !ran_on[0];
expect one_queue: holds;
expect gone: holds;
expect own_idle: holds;
"""


def test_mod_timer_queues_on_the_caller_unless_pending_and_del_timer_finds_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whichever arming comes first decides the CPU the callback runs on; a timer is never on
    two queues; a deleted timer is pending nowhere."""
    path = write(tmp_path, "queueing", QUEUEING)
    code, out = run(capsys, "test", str(path))
    assert code == 0, out


OFFLINE = """spec offline "a timer queued on an offline CPU does not fire";

param CPUS = 2;
var ran_on: bool[cpu] = false;
var queued: bool = false;

fn cb() { ran_on[smp_processor_id()] = true; }

cpu c {
  var online: bool = true;
  timer t = cb;
  for (;;) {
  idle:
    atomic { run_timer_softirq(); }
  }
}

thread hotplug {
  add_timer_on(&cpu[0].t, 1);      // CPU 0's timer on CPU 1
  queued = true;
  cpu[1].online = false;
}

invariant fires_if_online: (quiescent && queued) ==> (ran_on[1] || !cpu_online(1));
invariant never_on_0: !ran_on[0];
cover stranded: quiescent && timer_pending(&cpu[0].t);
cover fired: ran_on[1];
expect fires_if_online: holds;
expect never_on_0: holds;
"""


def test_a_timer_on_an_offline_cpu_stays_pending_and_counts_as_at_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "offline", OFFLINE)
    code, out = run(capsys, "test", str(path))
    assert code == 0, out
    assert "[when] cpu.online[self]" in dump(model_of(path))


TWO_TIMERS = """spec two_timers "two timer declarations, one softirq";

param CPUS = 2;
var ran1: bool[cpu] = false;
var ran2: bool[cpu] = false;

fn cb1() { ran1[smp_processor_id()] = true; }
fn cb2() { ran2[smp_processor_id()] = true; }

cpu c {
  var armed: bool = false;
  timer t1 = cb1;
  timer t2 = cb2;
  for (;;) {
  idle:
    atomic {
      either {
        run_timer_softirq();
      } or {
        await (!armed);
        armed = true;
        mod_timer(&t1);
        add_timer_on(&t2, c);
      }
    }
  }
}

thread other {
  add_timer_on(&cpu[0].t2, 1);
}

invariant t1_home: quiescent ==> forall i: cpu :: cpu[i].armed ==> ran1[i];
invariant t2_of_1: (quiescent && cpu[1].armed) ==> ran2[1];
invariant lost_home: (quiescent && cpu[0].armed) ==> (ran2[0] || ran2[1]);
expect t1_home: holds;
expect t2_of_1: holds;
expect lost_home: holds;
cover t2_elsewhere: ran2[1] && !cpu[1].armed;
cover t2_second: ran1[0] && !ran2[0] && timer_pending(&cpu[0].t2);
"""


def test_one_softirq_runs_the_timers_of_every_declaration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two `timer` declarations, one roaming (t2: the thread queues CPU 0's on CPU 1) and one
    not: run_timer_softirq() runs either kind, in either order, and both backends agree."""
    from tests.test_crosscheck import both, test_explore_and_bmc_agree, test_z3_counterexamples_replay_in_simulator

    path = write(tmp_path, "two_timers", TWO_TIMERS)
    code, out = run(capsys, "test", str(path))
    assert code == 0, out
    text = dump(model_of(path))
    assert "state cpu.t1: bool[cpu] = false" in text and "state cpu.t2: bool[cpu][cpu] = false" in text
    both("timers-two", path)
    test_explore_and_bmc_agree("timers-two", path)
    test_z3_counterexamples_replay_in_simulator("timers-two", path)


# ---------------------------------------------------------------- (c) the reference example


def test_the_reference_timer_example_still_proves_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/language.md's ref_timers (no run_timer_softirq(): a timer agent per CPU, each timer
    only ever queued on its owner) lowers as before this change and keeps its verdicts."""
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    m = re.search(r"```irqspec\n(spec ref_timers .*?)```", doc, re.S)
    assert m is not None
    path = write(tmp_path, "ref_timers", m.group(1))
    text = dump(model_of(path))
    assert "state cpu.sync_timer: bool[cpu] = false" in text
    assert "agent thread sync_timer[cpu]" in text
    assert "assume[await] cpu.sync_timer[self]\n    cpu.sync_timer[self] := false" in text
    code, out = run(capsys, "prove", str(path))
    assert code == 0, out
    v = verdicts(out, "ref_timers")
    assert v["work_done"] == "proved exhaustive search, 80 states up to dead variables", out
    assert v["synced_by_timer"] == "covered depth 9", out



def test_the_reference_softirq_example_proves_and_stays_symmetric(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    m = re.search(r"```irqspec\n(spec ref_softirq .*?)```", doc, re.S)
    assert m is not None
    path = write(tmp_path, "ref_softirq", m.group(1))
    a = symmetry.analyse(model_of(path))
    assert a.symmetric and not a.pins, (a.reasons, a.pins)
    code, out = run(capsys, "prove", str(path))
    assert code == 0, out
    assert verdicts(out, "ref_softirq")["synced"].startswith("proved exhaustive search"), out
    assert "up to permutations of CPUs 0, 1" in out, out

# ---------------------------------------------------------------- (d) misuse

HEAD = """param CPUS = 2;
var b: bool[cpu] = false;
fn cb() { b[smp_processor_id()] = true; }
fn g(x: cpu) { b[x] = true; }
"""
CPU = "cpu c {{ timer t = cb; for (;;) {{ idle: atomic {{ {} }} }} }}\n"

MISUSE = {
    "softirq_in_thread": (CPU.format("run_timer_softirq();") + "thread x { run_timer_softirq(); }", "E406"),
    "softirq_in_device": (CPU.format("run_timer_softirq();") + "device d { step s { run_timer_softirq(); } }",
                          "E406"),
    "softirq_no_timer": ("cpu c { for (;;) { idle: atomic { run_timer_softirq(); } } }", "E406"),
    "softirq_in_callback": ("fn cb2() { run_timer_softirq(); } cpu c { timer t = cb2; for (;;) { idle: "
                            "atomic { run_timer_softirq(); } } }", "E406"),
    "softirq_in_agent_callback": ("fn cb2() { run_timer_softirq(); } cpu c { timer t = cb2; for (;;) { idle: "
                                  "mod_timer(&t); } }", "E406"),
    "softirq_args": (CPU.format("run_timer_softirq(t);"), "E210"),
    "softirq_value": (CPU.format("await (run_timer_softirq());"), "E209"),
    "mod_timer_in_thread": (CPU.format("run_timer_softirq();") + "thread x { mod_timer(&cpu[1].t); }", "E406"),
    "mod_timer_in_device": (CPU.format("run_timer_softirq();") + "device d { step s { mod_timer(&cpu[0].t); } }",
                            "E406"),
    "add_timer_on_not_a_timer": (CPU.format("add_timer_on(&b, 1);"), "E301"),
    "add_timer_on_arity": (CPU.format("add_timer_on(&t);"), "E210"),
    "add_timer_on_bad_cpu": (CPU.format("add_timer_on(&t, true);"), "E301"),
    "add_timer_on_cpu_out_of_range": (CPU.format("add_timer_on(&t, 5);"), "E302"),
    "mod_timer_arity": (CPU.format("mod_timer(&t, 1);"), "E210"),
    "del_timer_not_a_timer": (CPU.format("del_timer(&b[0]);"), "E301"),
    "pending_arity": (CPU.format("await (timer_pending(&t, 0));"), "E210"),
    "callback_with_params": ("cpu c { timer t = g; for (;;) { idle: atomic { run_timer_softirq(); } } }", "E210"),
    "callback_missing": ("cpu c { timer t = nosuch; for (;;) { idle: atomic { run_timer_softirq(); } } }", "E201"),
    "short_name_in_thread": (CPU.format("run_timer_softirq();") + "thread x { add_timer_on(&t, 0); }", "E201"),
}


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_timer_misuse_is_a_located_error(name: str, tmp_path: Path) -> None:
    decl, code = MISUSE[name]
    path = write(tmp_path, name, f"spec {name};\n{HEAD}{decl}\n")
    diags = Diagnostics()
    load_model(str(path), {}, diags)
    found = [d for d in diags.items if d.severity == "error"]
    assert [d.code for d in found] == [code], render_all(diags)
    assert all(d.span is not None and d.span.line > 0 for d in found)


def test_a_non_cpu_agent_may_queue_delete_and_test_a_named_cpus_timer(tmp_path: Path) -> None:
    """A thread is on no CPU, so it names both the timer and the CPU: add_timer_on(),
    del_timer() and timer_pending() of `cpu[k].T` are fine there; mod_timer() is not."""
    text = f"spec ok;\n{HEAD}{CPU.format('run_timer_softirq();')}" \
           "thread x { add_timer_on(&cpu[1].t, 0); if (timer_pending(&cpu[1].t)) timer_delete(&cpu[1].t); }\n"
    assert errors(write(tmp_path, "ok", text)) == []
