"""Schemathesis hooks for Exhibit's OpenAPI test: tus bodies (application/offset+octet-stream) are raw bytes."""
import schemathesis
from schemathesis.transport.requests import binary_serializer


@schemathesis.serializer("application/offset+octet-stream")
def tus_body(ctx, value):
    return binary_serializer(ctx, value)


# Times and durations at and past their boundaries (README, "Security": every time from outside is parsed into
# 1970-9999 and every duration into 0 s-1,000 years, anything else a 400 naming the field). Before that, a year 0
# or an overflowing duration stopped the server; here they are mixed with valid values in every time and
# duration field the document names (`format: exhibit-time`, `exhibit-duration`, `exhibit-clock-offset`).
from hypothesis import strategies as st

_years = st.sampled_from(["0000", "0001", "1969", "1970", "1971", "2024", "2038", "2106", "9998", "9999", "10000", "-0001", "99999"])
_months = st.sampled_from(["00", "01", "02", "12", "13"])
_days = st.sampled_from(["00", "01", "28", "29", "30", "31", "32"])
_clock = st.sampled_from(["00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:00", "12:34:56.789",
                          "12:34:56." + "9" * 30, "12:34:56,5"])
_zones = st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "+01:60", "+0530", "-08", "+99:99"])


@st.composite
def _time(draw):
    date = f"{draw(_years)}-{draw(_months)}-{draw(_days)}"
    if draw(st.booleans()):
        return date
    return f"{date}{draw(st.sampled_from(['T', ' ', 't']))}{draw(_clock)}{draw(_zones)}"


_duration = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.sampled_from(["0", "1", "59", "60", "72", "999999999999", "300000000000",
                                                         "9223372036854775807", "99999999999999999999", "-5"]),
              st.sampled_from(["", "s", "m", "min", "h", "d", "w", "mo", "y", " y", "x"])),
)
_offset = st.builds(lambda s, n: f"{s}{n}", st.sampled_from(["", "+", "-"]),
                    st.sampled_from(["00:01:30", "99999999:00:00", "23:59:59.999999999", "0", "438000:00:00", "1e9"]))

schemathesis.openapi.format("exhibit-time", _time())
schemathesis.openapi.format("exhibit-duration", _duration)
schemathesis.openapi.format("exhibit-clock-offset", _offset)
