"""What each items route declares about its caller: the scopes of security/scopes.py."""

from typing import Annotated

from ..access.dependencies import Principal, require

ItemsReader = Annotated[Principal, require("items:read")]
ItemsWriter = Annotated[Principal, require("items:write")]
