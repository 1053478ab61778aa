"""The seam between the binary server and whatever answers a resolution.

The server decodes a request into a :class:`~idres.resolver.ResolveQuery`
and a :class:`Hop` (the request's recursion count and routing flags) and
calls an :data:`Answer`: a blocking callable (it runs in the server's thread
pool) that returns a :class:`Reply` or raises an
:class:`~idres.errors.HandleError`, whose ``rc`` becomes the response code.

:func:`local_answer` answers from this node's records only
(``idres.resolver.resolve`` as an anonymous reader, so values without public
read are never sent).  A served node uses
:func:`idres.federation.binary.binary_answer` instead (composed in
:mod:`idres.supervisor`): the federation router, which may answer referrals
(rc 302/303 with the HS_SITE values as ``values``) or resolve upward with
:mod:`idres.hdl.client`, whose successful results are :class:`Reply` objects
too, and which counts answers for the statistics reported upward.  This
package imports nothing from :mod:`idres.federation`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from idres.config import Config
from idres.resolver import ResolveQuery, resolve
from idres.storage import Database


@dataclass(frozen=True)
class Hop:
    """How a request reached us: the routing part of its message header."""

    recursion_count: int = 0   # servers that already forwarded this request
    recursive: bool = True     # REC: the client lets us resolve on its behalf
    do_not_refer: bool = False  # DNRF: answer the values or an error, never a referral
    authoritative: bool = False  # AT: the client wants primary data, not a cache


@dataclass(frozen=True)
class Reply:
    """A successful or referral answer: what goes back for one resolution request.

    ``rc`` is 1 (values), 200 (the filters matched nothing), 302 or 303
    (referral: ``values`` are the HS_SITE/HS_SERV values to follow).
    ``values`` are REST-shaped (``HandleValue.to_json()``), so an answer
    fetched from another node over REST or the binary protocol passes through
    unchanged.
    """

    rc: int
    handle: str
    values: tuple[Mapping[str, Any], ...] = ()
    message: str = ""

    @classmethod
    def from_rest(cls, body: Mapping[str, Any]) -> "Reply":
        """From a REST resolution body (``idres.resolver.resolve``'s result)."""
        return cls(body["responseCode"], body["handle"], tuple(body.get("values") or ()),
                   body.get("message", ""))


Answer = Callable[[ResolveQuery, Hop], Reply]


def local_answer(db: Database, config: Config) -> Answer:
    """Answer from this node's own records, as the REST API does for an anonymous client."""

    def answer(query: ResolveQuery, hop: Hop) -> Reply:
        return Reply.from_rest(resolve(db, config, None, query))

    return answer

