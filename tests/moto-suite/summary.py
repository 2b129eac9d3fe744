"""Counts of a moto-suite run from its JUnit XML: `passed N failed N skipped N`, then one line per
failing test (`FAILED node-id: first line of the reason`)."""

import sys
import xml.etree.ElementTree as ET


def main(path):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    for case in ET.parse(path).iter("testcase"):
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        outcome = "passed"
        reason = ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                reason = (child.get("message") or "").splitlines()[0:1]
                reason = reason[0] if reason else ""
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        counts[outcome] += 1
        if outcome == "failed":
            failures.append(f"FAILED {node}: {reason[:160]}")
    for line in failures:
        print(line)
    print(f"passed {counts['passed']} failed {counts['failed']} skipped {counts['skipped']}")


if __name__ == "__main__":
    main(sys.argv[1])
