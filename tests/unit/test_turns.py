"""Whose turn it is: write order, one holder, stale locks, resumes, newer runs."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from labelsync.domain import turns
from labelsync.domain.turns import LastRun, Lock, Ticket, decide_turn, order_key, skips_applied_chunks


def ticket(run: str, order: str, status: str = turns.QUEUED, digest: str = "d") -> Ticket:
    return Ticket("p/TRAIN", order, run, f"runs/{run}/", f"s3://b/{run}.jsonl", digest, status, execution=run)


def always(_: Ticket) -> bool:
    return True


def test_order_key_sorts_by_event_time_then_sequencer() -> None:
    early = order_key("2026-11-23T10:00:00.000Z", "0055AED6DCD90281E5", "a")
    same_time_later_seq = order_key("2026-11-23T10:00:00.000Z", "0055AED6DCD90281E6", "b")
    later = order_key("2026-11-23T10:00:00.001Z", "00", "c")
    assert early < same_time_later_seq < later
    assert order_key(None, None, "x") < early  # unknown time sorts first: never blocks a known earlier write


def test_a_live_earlier_run_goes_first_and_a_dead_one_is_skipped() -> None:
    first, second = ticket("first", "1"), ticket("second", "2")
    waiting = decide_turn(second, [first, second], Lock(), always)
    assert not waiting.go and waiting.waiting_for == "first" and "written earlier" in waiting.reason
    assert decide_turn(second, [first, second], Lock(), lambda t: t.run != "first").go
    assert decide_turn(first, [first, second], Lock(), always).go


def test_a_live_holder_blocks_and_a_dead_holder_leaves_a_stale_lock_to_take_over() -> None:
    holder, me = ticket("holder", "1", turns.APPLYING, digest="same"), ticket("me", "2", digest="same")
    lock = Lock(holder="holder", execution="holder", prefix="runs/holder/", digest="same")
    assert not decide_turn(me, [holder, me], lock, always).go
    taken = decide_turn(me, [holder, me], lock, lambda t: t.run != "holder")
    assert taken.go and taken.last == LastRun("holder", "runs/holder/", "same", complete=False)
    assert skips_applied_chunks(me, taken.last)  # same plan, stopped mid-way: a resume
    assert not skips_applied_chunks(replace(me, digest="other"), taken.last)
    assert not skips_applied_chunks(me, replace(taken.last, complete=True))


def test_newer_runs_that_held_the_lock_are_named_for_a_late_run() -> None:
    late = ticket("late", "1")
    newer_done, newer_queued = ticket("done", "2", turns.DONE), ticket("queued", "3")
    decision = decide_turn(late, [late, newer_done, newer_queued], Lock(last=None), always)
    assert decision.go and [t.run for t in decision.newer] == ["done"]


@given(
    orders=st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True),
    attempts=st.lists(st.integers(0, 7), min_size=1, max_size=80),
)
def test_runs_that_all_arrived_get_the_lock_one_at_a_time_in_write_order(
    orders: list[int], attempts: list[int]
) -> None:
    tickets = {f"r{o}": ticket(f"r{o}", f"{o:03d}") for o in orders}
    lock, holder_alive = Lock(), False
    granted: list[str] = []
    finished: set[str] = set()
    for pick in attempts + list(range(len(orders))) * len(orders):
        if holder_alive:  # the holder finishes before anyone else tries again
            lock = Lock(last=LastRun(lock.holder, "", "d", complete=True))
            tickets[granted[-1]] = replace(tickets[granted[-1]], status=turns.DONE)
            finished.add(granted[-1])
            holder_alive = False
        pending = [t for t in tickets.values() if t.run not in finished]
        if not pending:
            break
        me = pending[pick % len(pending)]
        decision = decide_turn(me, tickets.values(), lock, lambda t: t.run not in finished)
        if decision.go:
            assert not holder_alive
            lock, holder_alive = Lock(holder=me.run, execution=me.run), True
            tickets[me.run] = replace(me, status=turns.APPLYING)
            granted.append(me.run)
    assert granted == [f"r{o}" for o in sorted(orders)][: len(granted)]
