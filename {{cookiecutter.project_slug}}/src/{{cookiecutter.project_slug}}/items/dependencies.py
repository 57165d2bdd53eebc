"""What each items route declares about its caller: the scopes of security/scopes.py."""

from typing import Annotated

from fastapi import Security

from ..access.dependencies import Principal, authorize

ItemsReader = Annotated[Principal, Security(authorize, scopes=["items:read"])]
ItemsWriter = Annotated[Principal, Security(authorize, scopes=["items:write"])]
