"""Schemathesis hooks for Rabt's conformance run (tests/e2e/conformance.rs).

The Idempotency-Key header is documented as "unique per request; the same key when
retrying the same request". Schemathesis draws header values from the schema, so it
sends the same short key ("0") with many different bodies, which Rabt rightly answers
422 idempotency-key-reused (IETF draft-ietf-httpapi-idempotency-key-header). A client
behaves as the document says: a key of its own for each distinct request. This hook
makes every *valid* generated key specific to its body (a digest of both), so that
identical requests still share a key (and are replayed) while different ones do not.
Keys the schema does not allow (negative tests: empty, too long, spaces, non-ASCII) are
sent exactly as generated.
"""

import hashlib
import json
import re

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers:
        return
    for name in list(headers.keys()):
        if name.lower() != "idempotency-key":
            continue
        key = headers[name]
        if not isinstance(key, str) or not VALID_KEY.match(key):
            return
        try:
            body = json.dumps(case.body, sort_keys=True, default=str)
        except (TypeError, ValueError):
            body = repr(case.body)
        digest = hashlib.sha256(f"{key}\0{body}".encode()).hexdigest()
        headers[name] = f"st-{digest}"
        return


# The catalogue's own JSON Schema formats (crates/rabt-catalogue/src/formats.rs). The
# document names them; a generator that does not know them draws strings that match
# only the pattern beside them (a national ID with a wrong check digit), which Rabt
# rightly refuses. These strategies draw values of the format as the document means it.

from hypothesis import strategies as st


def _luhn_completed(payload: str) -> str:
    """`payload` (9 digits) with the Luhn check digit over all ten (rabt-core ident.rs)."""
    total = 0
    for i, ch in enumerate(payload):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return payload + str((10 - total % 10) % 10)


_digits = lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)  # noqa: E731

schemathesis.openapi.format(
    "rabt-national-id",
    st.tuples(st.sampled_from("12"), _digits(8)).map(lambda t: _luhn_completed(t[0] + t[1])),
)
schemathesis.openapi.format("rabt-unified-number", _digits(9).map(lambda d: "7" + d))
schemathesis.openapi.format(
    "rabt-short-address",
    st.tuples(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4), _digits(4))
    .map("".join),
)
schemathesis.openapi.format("rabt-building-number", _digits(4))
schemathesis.openapi.format("rabt-additional-number", _digits(4))
schemathesis.openapi.format("rabt-postal-code", _digits(5))
schemathesis.openapi.format("rabt-mobile", _digits(8).map(lambda d: "05" + d))
schemathesis.openapi.format(
    "rabt-hijri-date",
    st.tuples(st.integers(1356, 1499), st.integers(1, 12), st.integers(1, 29)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    ),
)

# A maintenance pause's expected end is "an RFC 3339 date and time in the future" (the
# document says so; JSON Schema cannot): drawn from the years ahead.
from datetime import datetime, timezone  # noqa: E402

schemathesis.openapi.format(
    "rabt-future-date-time",
    st.datetimes(
        min_value=datetime(2100, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)
    ).map(lambda d: d.isoformat()),
)
