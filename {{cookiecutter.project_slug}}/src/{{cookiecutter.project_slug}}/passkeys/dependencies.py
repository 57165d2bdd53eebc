from typing import Annotated

from fastapi import Depends

from ..services import ServicesDep
from .ceremonies import RelyingParty


async def relying_party(services: ServicesDep) -> RelyingParty:
    """This site as passkeys know it, from the settings checked at start-up."""
    return RelyingParty.from_settings(services.settings)


RelyingPartyDep = Annotated[RelyingParty, Depends(relying_party)]
