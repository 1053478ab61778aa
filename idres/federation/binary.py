"""The router behind the binary Handle protocol server (the :data:`idres.hdl.answer.Answer` seam).

Header flags map onto the REST parameters: REC set (the default) lets this
node resolve recursively; REC cleared asks for a referral, answered as rc
302 (service referral) with the HS_SITE values of the prefix record; with
DNRF (never a referral) as well, rc 301.  AT (authoritative) bypasses the
cache as ``auth=true`` does.  The header's recursion count is passed on.
Binary clients are anonymous, so only public values are answered.
"""
from __future__ import annotations

from idres.config import Config
from idres.errors import NotResponsible
from idres.federation.routing import Referral, Router
from idres.federation.stats import counting
from idres.hdl.answer import Answer, Hop, Reply
from idres.resolver import ResolveQuery
from idres.storage import Database

RC_SERVICE_REFERRAL = 302


def binary_answer(db: Database, config: Config) -> Answer:
    """The node's :data:`~idres.hdl.answer.Answer`: routes like ``GET /api/handles`` (own cache),
    and counts answers toward the per-prefix statistics reported upward."""
    router = Router(db, config)

    def answer(query: ResolveQuery, hop: Hop) -> Reply:
        try:
            body = router.resolve(None, query, recursion=hop.recursion_count,
                                  do_not_refer=not hop.recursive, authoritative=hop.authoritative)
        except Referral as referral:
            if hop.do_not_refer or not referral.values:
                raise NotResponsible(referral.message, handle=query.handle) from None
            return Reply(RC_SERVICE_REFERRAL, query.handle, tuple(referral.values), referral.message)
        return Reply.from_rest(body)

    return counting(answer, db, config)
