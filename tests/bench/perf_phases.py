#!/usr/bin/env python3
"""Groups the samples of a `perf script` (recorded with call graphs) of
`ycr-bench --mode=domain` into the phases of a domain command, and prints
each phase's share of the samples. Each sample goes to the first phase (in
the order below) that a frame of its stack names. See DOMAIN_PROFILE.md.

Usage: perf script -i perf.data | tests/bench/perf_phases.py
"""
import collections
import sys

# (phase, frame substrings), first match wins.
PHASES = [
    ("projections (follow the log, apply, commit)",
     ["ProjectionRunner", "ProjectionStore"]),
    ("writer: sealing and subject keys",
     ["WriterLoop&SealEvent", "WriterLoop&SubjectKeys", "WriterLoop&Seal("]),
    ("writer: hash chain, Merkle tree, idempotency digest",
     ["WriterLoop&Digest", "WriterLoop&Sha256", "WriterLoop&Tree"]),
    ("writer: WAL write and sync", ["WriterLoop&WriteToWAL",
                                    "WriterLoop&SyncWAL", "WriterLoop&fdatasync"]),
    ("writer: memtable inserts", ["WriterLoop&MemTable::Add",
                                  "WriterLoop&InsertInto"]),
    ("writer: decide (versions, event ids, encode)",
     ["WriterLoop&Impl::Decide"]),
    ("writer: other (wake-ups, answers)", ["WriterLoop"]),
    ("access log", ["AccessLog"]),
    ("command: replay check (event id)", ["DomainCommands::Replay"]),
    ("command: subject record read", ["RequireSubject"]),
    ("command: fold of a concern or consent stream",
     ["CheckConcern", "DependOnConsent", "Fold<"]),
    ("command: child-protection mark", ["MarkChildProtection"]),
    ("command: personal part", ["SettlePersonal"]),
    ("command: validation",
     ["ValidateDisclosure", "ValidateAppend", "Walker"]),
    ("command: append (queue, wait)", ["AppendAsync", "EventLog::Append"]),
    ("command: other (copies, ids)", ["DomainCommands::", "Execute<"]),
    ("server: caller identity", ["ResolveValidCaller"]),
    ("server: command thread (finish the call, wake-ups)",
     ["RunCommand", "WorkQueue::Run"]),
    ("client: issue and complete (gRPC client)",
     ["Client::", "Stub::async"]),
    ("TLS record encryption", ["libssl", "tsi_", "SSL_"]),
    ("gRPC transport and server (polling, HTTP/2)", ["grpc"]),
    ("kernel, other", ["kernel.kallsyms"]),
]


def matches(stack, pattern):
  return all(part in stack for part in pattern.split("&"))


def phase(stack):
  for name, patterns in PHASES:
    if any(matches(stack, p) for p in patterns):
      return name
  return "other"


def main():
  counts = collections.Counter()
  frames = []
  for line in sys.stdin:
    if line.startswith((" ", "\t")) and line.strip():
      frames.append(line.strip())
      continue
    if frames:
      counts[phase("\n".join(frames))] += 1
    frames = []
  if frames:
    counts[phase("\n".join(frames))] += 1
  total = sum(counts.values()) or 1
  for name, n in counts.most_common():
    print(f"{100.0 * n / total:5.1f}%  {name}")
  print(f"({total} samples)")


if __name__ == "__main__":
  main()
