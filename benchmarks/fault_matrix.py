"""The fault matrix: seeded fault scenarios on the offline stack, outcome table per fault kind.

    python -m benchmarks.fault_matrix [--runs 100] [--seed 1] [--limit 40] [--write-docs]
                                      [--kinds KIND,...] [--scenario SEED] [--json PATH] [--verbose]

Scenario i of a matrix has seed `seed * 10000 + i`; its first fault kind rotates through
every kind (so 100 runs cover each kind several times), 0-2 more are drawn
(benchmarks/fault_scenarios.py says what each kind does). Every scenario runs on its own
OfflineStack, bounded by `--limit` wall seconds (a scenario that does not finish is
recorded as hung, not waited for). `--scenario SEED` reruns one scenario and prints what
happened. `--write-docs` replaces the marked "Fault matrix" section of docs/reliability.md.

Exit status 1 when any scenario broke an invariant.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import logging
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

from benchmarks.doc_sections import replace_marked  # noqa: E402
from benchmarks.fault_scenarios import (  # noqa: E402
    COMPLETED,
    HUNG,
    RESUMED,
    VIOLATED,
    VIOLATIONS,
    Outcome,
    fault_kinds,
    lambda_functions,
    make_scenario,
    run_scenario,
    run_seed,
)

DOCS = ROOT / "docs" / "reliability.md"
START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"
SEED_STRIDE = 10_000


def scenario_seeds(runs: int, seed: int) -> list[int]:
    return [seed * SEED_STRIDE + i for i in range(runs)]


def run_matrix(
    seeds: Sequence[int],
    *,
    limit_seconds: float,
    kinds: Sequence[str] | None = None,
    jobs: int = 1,
    verbose: bool = False,
    sandboxed: bool = False,
) -> list[Outcome]:
    """Every scenario, each on its own offline stack; `jobs` > 1 runs them in that many processes."""
    outcomes: dict[int, Outcome] = {}

    def done(number: int, outcome: Outcome) -> None:
        outcomes[outcome.seed] = outcome
        mark = {COMPLETED: ".", RESUMED: "r", VIOLATED: "X"}[outcome.status]
        detail = "" if outcome.status != VIOLATED else " " + "; ".join(sorted(outcome.violations))
        print(
            f"[{number}/{len(seeds)}] {mark} seed {outcome.seed} {','.join(outcome.kinds)} {outcome.seconds:.1f}s{detail}",
            file=sys.stderr,
            flush=True,
        )

    if jobs <= 1:
        functions = lambda_functions()
        for number, seed in enumerate(seeds, start=1):
            scenario = make_scenario(seed, kinds=kinds, functions=functions)
            log = print if verbose else None
            done(number, run_scenario(scenario, limit_seconds=limit_seconds, log=log, sandboxed=sandboxed))
    else:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no moto state shared
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(run_seed, seed, kinds, limit_seconds, sandboxed) for seed in seeds]
            for number, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                done(number, future.result())
    return [outcomes[seed] for seed in seeds]


def table(outcomes: Sequence[Outcome], functions: Sequence[str]) -> list[str]:
    columns = ["runs", "struck", "completed first time", "failed + alerted, completed on resume", *VIOLATIONS]
    lines = [
        "| fault kind | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    rows = [*fault_kinds(functions), "all scenarios"]
    for kind in rows:
        mine = [o for o in outcomes if kind in o.kinds] if kind != "all scenarios" else list(outcomes)
        if not mine and kind != "all scenarios":
            continue
        struck = sum(1 for o in mine if o.fired.get(kind, 0) > 0) if kind != "all scenarios" else len(mine)
        cells = [
            len(mine),
            struck,
            sum(1 for o in mine if o.status == COMPLETED),
            sum(1 for o in mine if o.status == RESUMED),
            *(sum(1 for o in mine if v in o.violations) for v in VIOLATIONS),
        ]
        name = f"`{kind}`" if kind != "all scenarios" else "**all scenarios**"
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    return lines


def render(
    outcomes: Sequence[Outcome], seconds: float, command: str, limit: float, jobs: int, sandboxed: bool = True
) -> str:
    functions = lambda_functions()
    statuses = Counter(o.status for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds) if outcomes else None
    now = datetime.date.today().isoformat()
    cpus = os.cpu_count() or 1
    lines = [
        START,
        "## Fault matrix",
        "",
        f"Run on {now}, {platform.system()} {platform.machine()}, {cpus} CPUs, Python {platform.python_version()};",
        f"{jobs} worker process{'es' if jobs > 1 else ''}, one offline stack per scenario, {limit:.0f} s wall limit per scenario,",
        (
            "every function sandboxed (its own worker process, killed past its MemorySize or timeout as Lambda does):"
            if sandboxed
            else "the handlers in each scenario's process (`--in-process`: no memory limit):"
        ),
        "",
        "```bash",
        command,
        "```",
        "",
        f"**{len(outcomes)} scenarios in {seconds:.0f} s** ({seconds / max(1, len(outcomes)):.1f} s each"
        + (f", slowest {slowest.seconds:.1f} s (seed {slowest.seed})" if slowest else "")
        + f"): {statuses[COMPLETED]} completed first time, {statuses[RESUMED]} failed with an alert and "
        f"completed on resume, **{statuses[VIOLATED]} broke an invariant**. Starting a scenario's offline stack",
        f"took {_median([o.start_seconds for o in outcomes]):.2f} s (median; the first in each process pays the imports).",
        "Scenarios are seeded (data, faults, delivery order); thread timing is not, so a rerun of one seed",
        "can interleave differently.",
        "",
        "Each scenario (seeded, benchmarks/fault_scenarios.py): 1-2 datasets (existing or created by the",
        "pipeline), 1-4 manifests of 5-60 lines (invalid and blank lines, images repeated inside a manifest",
        "and across the manifests of a dataset, sometimes the same key written twice), a chunk limit of",
        "5 MB, 4,000 or 1,500 bytes (up to a dozen chunks), and 1-3 fault kinds (the first rotates through",
        "every kind). Failed runs are resumed (`OfflineStack.resume`, as `python -m cli.resume`) after the",
        "faults are fixed (persistent ones first, all after a second failure), up to 3 rounds; a manifest",
        "whose plan step never started a run gets its S3 event again. Then the checks:",
        "",
        "- **lost lines**: an image whose newest-written accepted line is not in the dataset;",
        "- **wrong version**: an image holding another line than the newest-written manifest's last",
        "  accepted line for it (an older manifest's, a superseded one), or an image no accepted line sent;",
        "  also between resume rounds: once a manifest's run reported success, none of its images may hold",
        "  a line of a manifest written before it (whatever else is still failed);",
        "- **missing alert**: an execution that ended FAILED/ABORTED/TIMED_OUT without a `FAILED` alert",
        "  naming its manifest and failing step, or a plan step that failed after its retries without one;",
        "- **unaccounted lines**: a completed run's report whose reconciliation does not add up to the",
        "  lines of the file, is not balanced or checked, leaves lines not applied, or counts other",
        "  rejected/blank lines than the manifest has;",
        "- **not completed**: a manifest with no success report after the resumes;",
        "- **hung**: the scenario still running at its wall limit (what still runs is then stopped).",
        "",
        "Observations are not violations: two success reports for one object version (`duplicate report`),",
        "or a plan step that gave up on a manifest while other runs still ran (`plan gave up mid-flight`:",
        "the harness sends that event again at once, as an operator redriving the failure queue would).",
        "",
        "`struck`: scenarios where the fault actually happened (a crash of the 3rd invocation of a",
        "function invoked twice never strikes). A scenario with several kinds counts in each of their rows.",
        "",
        *table(outcomes, functions),
        "",
        "Fault kinds: `throttling` / `server-errors` (seeded rates of ThrottlingException /",
        "InternalServerError on one operation or all), `latency` (1-40 simulated seconds added to each",
        "call), `outside-update` (another client keeps a dataset UPDATE_IN_PROGRESS for 20-500 s, once or",
        "twice, at a random moment), `update-failed` (the n-th accepted update ends UPDATE_FAILED, once or",
        "until fixed), `crash:<Function>` (every function of infra/function_specs.py: from the n-th",
        "invocation on, once, three times in a row (all of an S3 event's attempts) or until fixed, the",
        "function dies with `Runtime.ExitError` before its handler runs, just before its k-th AWS call (what",
        "it did so far stays done) or after it returned (its result lost)), `duplicate-events` (events",
        "delivered twice, at once or after everything finished), `out-of-order-events` (events delivered in a",
        "shuffled order, or one older manifest's event after the newer ones were applied),",
        "`concurrent-manifests` (every manifest dropped at once), `stopped-execution` (StopExecution on a",
        "running execution).",
    ]
    causes = Counter(alert for o in outcomes for alert in o.alerts)
    if causes:
        lines += [
            "",
            "What the alerts of failed runs named (`failure.stage: failure.error`), over all scenarios:",
            "",
            "| stage: error | alerts |",
            "|---|---:|",
            *(f"| `{cause}` | {count} |" for cause, count in causes.most_common()),
        ]
    violated = [o for o in outcomes if o.status == VIOLATED]
    if violated:
        lines += ["", "Violations (rerun one with `python -m benchmarks.fault_matrix --scenario SEED`):", ""]
        for outcome in violated[:40]:
            for kind, details in sorted(outcome.violations.items()):
                more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
                lines.append(f"- seed {outcome.seed} [{', '.join(outcome.kinds)}] {kind}: {details[0]}{more}")
        if len(violated) > 40:
            lines.append(f"- ... and {len(violated) - 40} more scenarios")
    observed = [(o, kind, details) for o in outcomes for kind, details in sorted(o.observations.items())]
    if observed:
        lines += ["", "Observations (not invariant violations):", ""]
        for outcome, kind, details in observed[:20]:
            lines.append(f"- seed {outcome.seed} [{', '.join(outcome.kinds)}] {kind}: {details[0]}")
        if len(observed) > 20:
            lines.append(f"- ... and {len(observed) - 20} more")
    hung = [o.seed for o in outcomes if HUNG in o.violations]
    if hung:
        lines += ["", f"Hung scenarios (seeds): {', '.join(str(s) for s in hung)}."]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def write_docs(section: str) -> None:
    """Replace our marked section (or append it); the rest of the file (the fuzzing sections) stays."""
    replace_marked(DOCS, START, END, section, title="Reliability")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="scenarios (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=120.0, help="wall seconds per scenario (default 120)")
    parser.add_argument("--jobs", type=int, default=3, help="scenarios run in parallel processes (default 3)")
    parser.add_argument("--kinds", default="", help="comma-separated fault kinds to force on every scenario")
    parser.add_argument("--scenario", type=int, default=None, help="rerun this one scenario seed, verbosely")
    parser.add_argument("--json", type=Path, default=None, help="write every outcome as JSON here")
    parser.add_argument("--write-docs", action="store_true", help="update docs/reliability.md")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the handlers in the scenario's process (faster; no memory limit) instead of sandboxed",
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the Lambda functions' own logs; outcomes are what matters here
    kinds = [k for k in args.kinds.split(",") if k] or None

    if args.scenario is not None:
        scenario = make_scenario(args.scenario, kinds=kinds)
        print(scenario.describe())
        outcome = run_scenario(scenario, limit_seconds=args.limit, log=print, sandboxed=not args.in_process)
        print(json.dumps(outcome.as_dict(), indent=1))
        return 1 if outcome.status == VIOLATED else 0

    seeds = scenario_seeds(args.runs, args.seed)
    started = time.perf_counter()
    outcomes = run_matrix(
        seeds,
        limit_seconds=args.limit,
        kinds=kinds,
        jobs=args.jobs,
        verbose=args.verbose,
        sandboxed=not args.in_process,
    )
    seconds = time.perf_counter() - started
    command = f".venv/bin/python -m benchmarks.fault_matrix --runs {args.runs} --seed {args.seed}"
    if args.limit != 120.0:
        command += f" --limit {args.limit:g}"
    if args.jobs != 3:
        command += f" --jobs {args.jobs}"
    if kinds:
        command += f" --kinds {args.kinds}"
    if args.in_process:
        command += " --in-process"
    command += " --write-docs"
    section = render(outcomes, seconds, command, args.limit, args.jobs, sandboxed=not args.in_process)
    print(section)
    if args.json:
        args.json.write_text(json.dumps([o.as_dict() for o in outcomes], indent=1))
    if args.write_docs:
        write_docs(section)
    return 1 if any(o.status == VIOLATED for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
