"""Add up pytest JUnit XML reports and print one closing line: 'total: N passed, N failed, N skipped'."""

import sys
import xml.etree.ElementTree as ET


def main(paths):
    passed = failed = skipped = 0
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            failed += 1  # a suite that wrote no report crashed
            continue
        for suite in root.iter("testsuite"):
            tests, errors, failures, skips = (int(suite.get(k, 0)) for k in ("tests", "errors", "failures", "skipped"))
            failed += errors + failures
            skipped += skips
            passed += tests - errors - failures - skips
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
