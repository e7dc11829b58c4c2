"""Every ORM model of stvos, one module per aggregate. Importing this package registers them all."""

from stvos.models.client import ApiKey, Client, ClientStatus, PlatformKey
from stvos.models.idempotency import IdempotencyRecord

__all__ = ["ApiKey", "Client", "ClientStatus", "IdempotencyRecord", "PlatformKey"]
