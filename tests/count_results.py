#!/usr/bin/env python3
"""Counts GoogleTest cases from Bazel's test.xml files and prints
"N passed, N failed". A test target that failed without a report (a crash,
a build failure, a timeout) counts as one failure.

usage: count_results.py BAZEL_TESTLOGS_DIR BAZEL_EXIT_STATUS < test labels
Only the reports of the given test labels are read, so reports left by
targets that no longer exist do not count.
"""
import os
import sys
import xml.etree.ElementTree as ET


def main():
    logs, status = sys.argv[1], int(sys.argv[2])
    passed = failed = 0
    labels = [l.strip() for l in sys.stdin if l.strip().startswith("//")]
    for label in labels:
        package, _, name = label[2:].partition(":")
        path = os.path.join(logs, package, name, "test.xml")
        if not os.path.exists(path):
            print(f"FAILED (no report): {label}")
            failed += 1
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            print(f"unreadable report: {path}")
            failed += 1
            continue
        cases = root.iter("testcase")
        n = 0
        for case in cases:
            n += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                print(f"FAILED: {case.get('classname')}.{case.get('name')}")
            elif case.get("status") == "notrun" or case.find("skipped") is not None:
                continue
            else:
                passed += 1
        if n == 0:
            # A target that crashed before writing cases: Bazel's own report.
            failed += 1
            print(f"FAILED (no test cases reported): {path}")
    if status != 0 and failed == 0:
        failed = 1
        print(f"bazel test exited with status {status}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
