"""Turns the raw results of `run` into Markdown tables: medians over the
rounds, and each stack's ratio to tokio-tungstenite taken within each round
(so both sides of a ratio ran minutes apart under the same load), then the
median of those ratios."""
import statistics
import sys
from collections import defaultdict

BASE = "tungstenite"
STACKS = ["tungstenite", "tokio-websockets", "fastwebsockets"]

rows = defaultdict(dict)  # (scenario, stack) -> round -> fields
for line in open(sys.argv[1]):
    rnd, scenario, stack, result, load = line.rstrip("\n").split("\t")
    fields = dict(kv.split("=") for kv in result.split()[1:])
    fields = {k: float(v) for k, v in fields.items()}
    fields["load1"] = float(load)
    rows[(scenario, stack)][int(rnd)] = fields


def med(scenario, stack, key):
    return statistics.median(f[key] for f in rows[(scenario, stack)].values())


def ratio(scenario, stack, key):
    base = rows[(scenario, BASE)]
    mine = rows[(scenario, stack)]
    values = [mine[r][key] / base[r][key] for r in mine if r in base and base[r][key]]
    return statistics.median(values) if values else float("nan")


names = {"small": "100 conns x 20 B text", "large": "500 conns x 16 KiB binary"}
for scenario in ["small", "large"]:
    if not any((scenario, s) in rows for s in STACKS):
        continue
    print(f"\n### Echo, {names[scenario]} (median of {len(rows[(scenario, BASE)])} rounds)\n")
    print("| stack | msgs/s | ratio | p50 µs | p99 µs | server CPU µs/msg | ratio | server CPU % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for stack in STACKS:
        if (scenario, stack) not in rows:
            continue
        print(
            f"| {stack} | {med(scenario, stack, 'msgs_per_s'):,.0f} | "
            f"{ratio(scenario, stack, 'msgs_per_s'):.2f} | "
            f"{med(scenario, stack, 'p50_us'):.0f} | {med(scenario, stack, 'p99_us'):.0f} | "
            f"{med(scenario, stack, 'server_cpu_us_per_msg'):.2f} | "
            f"{ratio(scenario, stack, 'server_cpu_us_per_msg'):.2f} | "
            f"{med(scenario, stack, 'server_cpu_pct'):.0f} |"
        )
if any(("idle", s) in rows for s in STACKS):
    n = int(next(iter(rows[("idle", BASE)].values()))["connections"])
    print(f"\n### Server memory per idle connection ({n:,} connections, each used once)\n")
    print("| stack | VmRSS KiB/conn | ratio | heap allocated KiB/conn | ratio |")
    print("|---|---:|---:|---:|---:|")
    for stack in STACKS:
        if ("idle", stack) in rows:
            print(
                f"| {stack} | {med('idle', stack, 'per_conn_kib'):.2f} | "
                f"{ratio('idle', stack, 'per_conn_kib'):.2f} | "
                f"{med('idle', stack, 'heap_per_conn_kib'):.2f} | "
                f"{ratio('idle', stack, 'heap_per_conn_kib'):.2f} |"
            )
loads = [f["load1"] for d in rows.values() for f in d.values()]
print(f"\n1-minute load average after each run: min {min(loads):.2f}, median "
      f"{statistics.median(loads):.2f}, max {max(loads):.2f}")
