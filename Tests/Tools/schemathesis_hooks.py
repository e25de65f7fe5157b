"""Schemathesis hooks for Exhibit's OpenAPI test: tus bodies (application/offset+octet-stream) are raw bytes."""
import schemathesis
from schemathesis.transport.requests import binary_serializer


@schemathesis.serializer("application/offset+octet-stream")
def tus_body(ctx, value):
    return binary_serializer(ctx, value)
