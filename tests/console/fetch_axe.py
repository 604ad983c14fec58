#!/usr/bin/env python3
"""Fetches axe-core for the console's browser test (tests/console/browser.py).

The accessibility engine is 550 KB of minified JavaScript: rather than keep a copy in
the repository, the test suite takes the published package from the npm registry (one
of the registries these machines reach), checks it against the integrity npm publishes
for it, and keeps `axe.min.js` in a cache folder. Standard library only: no npm needed.

    fetch_axe.py DIR    prints the path of DIR/axe-core-<version>.min.js, fetching it once
"""

import base64
import hashlib
import io
import pathlib
import sys
import tarfile
import urllib.request

VERSION = "4.11.4"
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
# npm's `dist.integrity` of that tarball (`npm view axe-core@4.11.4 dist.integrity`).
INTEGRITY = "sha512-KunSNx+TVpkAw/6ULfhnx+HWRecjqZGTOyquAoWHYLRSdK1tB5Ihce1ZW+UY3fj33bYAFWPu7W/GRSmmrCGuxA=="


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: fetch_axe.py DIR")
    folder = pathlib.Path(sys.argv[1])
    target = folder / f"axe-core-{VERSION}.min.js"
    if not target.is_file():
        with urllib.request.urlopen(TARBALL, timeout=120) as response:
            data = response.read()
        got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if got != INTEGRITY:
            sys.exit(f"fetch_axe.py: {TARBALL} does not match its published integrity")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.extractfile("package/axe.min.js")
            if member is None:
                sys.exit("fetch_axe.py: the package holds no axe.min.js")
            script = member.read()
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(script)
        partial.replace(target)
    print(target)


if __name__ == "__main__":
    main()
