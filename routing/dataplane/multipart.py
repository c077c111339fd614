"""The framing of a multipart/form-data body (RFC 7578, RFC 2046), checked without copying it.

The gateway needs one text field of an upload (`model`) and must not send a broken body upstream.
Parts are located with `bytes.find` (C speed over a 25 MB audio file); only the part headers are
parsed in Python, and the file contents are never copied or decoded.
"""

import re
from dataclasses import dataclass

from django.utils.http import parse_header_parameters

from . import errors

# RFC 2046: 1 to 70 characters from a restricted set, not ending with a space.
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
MAX_PARTS = 256
MAX_PART_HEADER_BYTES = 8192
_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None
    start: int  # the content's offsets in the body
    end: int


def _invalid(reason: str) -> errors.GatewayError:
    return errors.bad_request(f"The multipart/form-data body is invalid: {reason}.")


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_header_parameters(content_type)
    if kind != "multipart/form-data":
        raise errors.bad_request("This endpoint takes multipart/form-data.")
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise _invalid("the Content-Type has no valid boundary")
    return boundary.encode("ascii")


def _part_headers(block: bytes) -> tuple[str, str | None]:
    """(name, filename) from a part's header block."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("a part's headers are not UTF-8") from None
    disposition = None
    for line in text.split("\r\n"):
        header, colon, value = line.partition(":")
        if not colon or not header or header != header.strip():
            raise _invalid("a part has a malformed header line")
        if header.lower() == "content-disposition":
            disposition = value.strip()
    if disposition is None:
        raise _invalid("a part has no Content-Disposition header")
    kind, params = parse_header_parameters(disposition)
    if kind != "form-data" or not params.get("name"):
        raise _invalid("a part is not a named form-data field")
    return params["name"], params.get("filename")


def parse_parts(body: bytes, boundary: bytes) -> list[Part]:
    """Every part of the body, in order; a GatewayError (400) names what is wrong with the framing."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        position = len(delimiter)
    else:  # a preamble, which the recipient ignores
        first = body.find(_CRLF + delimiter)
        if first < 0:
            raise _invalid("the boundary from the Content-Type never occurs")
        position = first + 2 + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", position):
            return parts  # the close delimiter; an epilogue after it is ignored
        while body[position : position + 1] in (b" ", b"\t"):
            position += 1  # transport padding
        if not body.startswith(_CRLF, position):
            raise _invalid("a boundary line is not followed by a line break")
        position += 2
        if len(parts) == MAX_PARTS:
            raise _invalid(f"more than {MAX_PARTS} parts")
        if body.startswith(_CRLF, position):
            raise _invalid("a part has no headers")
        headers_end = body.find(b"\r\n\r\n", position, position + MAX_PART_HEADER_BYTES)
        if headers_end < 0:
            raise _invalid("a part's headers do not end (or are too long)")
        name, filename = _part_headers(body[position:headers_end])
        start = headers_end + 4
        end = body.find(_CRLF + delimiter, start)
        if end < 0:
            raise _invalid("the body ends before its closing boundary")
        parts.append(Part(name, filename, start, end))
        position = end + 2 + len(delimiter)


def text_field(body: bytes, parts: list[Part], name: str) -> str | None:
    """The value of the text field `name`; None when absent. Given twice, or as a file: 400."""
    found = [part for part in parts if part.name == name]
    if not found:
        return None
    if len(found) > 1:
        raise errors.bad_request(f"The form field '{name}' is given more than once.", param=name)
    part = found[0]
    if part.filename is not None:
        raise errors.bad_request(f"The form field '{name}' must be text, not a file.", param=name)
    try:
        return body[part.start : part.end].decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request(
            f"The form field '{name}' is not UTF-8 text.", param=name
        ) from None
