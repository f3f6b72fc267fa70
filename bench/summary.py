"""Summary benchmark: prompt tokens, offline latency and grounding drops by timeline size.

For incidents of 10, 100, 1,000 and 10,000 timeline events (a realistic one, and a noisy one
with every event kind and long messages) it prints the compacted prompt's estimated tokens and
compaction level, the offline summariser's p50/p95 latency, and how many sentences grounding
drops from a model-style answer that mixes true and invented figures. It checks in its own
output that the token budget held at every size. Figures only; it never gates CI.

    .venv/bin/python bench/summary.py [--budget 6000] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.grounding import Evidence, ground
from bot.summary.compaction import TokenBudget
from bot.summary.offline import OfflineSummariser
from bot.summary.prompt import build_prompt
from tests.fakes.summary import make_dossier, noisy_dossier

SIZES = (10, 100, 1_000, 10_000)
ANSWER = (
    "INC-42 triggered at 12:03 on llama-3-70b-instruct. The queue peaked at 148 requests. "
    "About 9,999 users saw errors. Acknowledgement took 12 min. Confidence was 0.91. "
    "Pod vllm-llama-70b-7f9c8d-zzzzz crashed at 12:07. The runbook scale-out was verified."
)


def percentile_ms(samples_s: list[float], q: int) -> float:
    return statistics.quantiles(samples_s, n=100)[q - 1] * 1000 if len(samples_s) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=6_000, help="max prompt tokens")
    parser.add_argument("--runs", type=int, default=30, help="offline runs per size")
    args = parser.parse_args()
    budget = TokenBudget(max_prompt_tokens=args.budget)
    offline = OfflineSummariser()
    print(f"prompt budget: {budget.max_prompt_tokens} tokens; offline runs per size: {args.runs}")
    header = (
        f"{'dossier':>8} {'events':>7} {'prompt_tokens':>13} {'level':>5} {'kept':>5} "
        f"{'elided':>7} {'build_ms':>8} {'offline_p50_ms':>14} {'offline_p95_ms':>14} "
        f"{'dropped':>7} {'budget':>6}"
    )
    print(header)
    held_everywhere = True
    for events in SIZES:
        for label, dossier in (
            ("realistic", make_dossier(events=events)),
            ("noisy", noisy_dossier(events, seed=events)),
        ):
            started = time.perf_counter()
            prompt = build_prompt(dossier, budget)
            build_ms = (time.perf_counter() - started) * 1000
            latencies_s = []
            for _ in range(args.runs):
                started = time.perf_counter()
                offline.summarise(dossier)
                latencies_s.append(time.perf_counter() - started)
            dropped = ground(ANSWER, Evidence(prompt.user_content)).dropped_count
            held = prompt.prompt_tokens <= budget.max_prompt_tokens
            held_everywhere &= held
            print(
                f"{label:>8} {events:>7} {prompt.prompt_tokens:>13} {prompt.compacted.level:>5} "
                f"{prompt.compacted.events_kept:>5} {prompt.compacted.events_elided:>7} "
                f"{build_ms:>8.1f} {percentile_ms(latencies_s, 50):>14.2f} "
                f"{percentile_ms(latencies_s, 95):>14.2f} {dropped:>7} "
                f"{'held' if held else 'OVER':>6}"
            )
    verdict = "HELD at every size" if held_everywhere else "EXCEEDED at some size"
    print(f"budget check: {verdict} (limit {budget.max_prompt_tokens} prompt tokens)")
    print(
        "grounding: 'dropped' counts sentences removed from a sample answer with 2 invented "
        "sentences (9,999 users; pod ...-zzzzz at 12:07); fewer means the dossier happened to "
        "contain that figure (the noisy timeline has an 'event 9999')"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
