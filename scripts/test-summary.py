#!/usr/bin/env python3
"""Sums the TRX files under the folders given and prints "N passed, N failed" (and the skipped count, if any).

A folder without a TRX file (the run crashed, or never started) counts as one failed test, so a run that produced no
results can never read as a success."""
import glob
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for folder in sys.argv[1:]:
    files = glob.glob(folder + "/**/*.trx", recursive=True)
    if not files:
        failed += 1
    for f in files:
        counters = ET.parse(f).getroot().find(".//{*}ResultSummary/{*}Counters")
        passed += int(counters.get("passed"))
        failed += sum(int(counters.get(k)) for k in ("failed", "error", "timeout", "aborted"))
        skipped += int(counters.get("notExecuted"))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
