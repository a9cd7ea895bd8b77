"""Every domain's tables on one MetaData, for Alembic and for throwaway test schemas."""

from core import models as core_models
from core.db import Base
from dispatch import models as dispatch_models
from insight import models as insight_models
from money import models as money_models
from notify import models as notify_models
from notify.webhooks import models as webhook_models
from orders import models as orders_models
from promise import models as promise_models
from tracking import models as tracking_models

metadata = Base.metadata
__all__ = [
    "core_models",
    "dispatch_models",
    "insight_models",
    "metadata",
    "money_models",
    "notify_models",
    "orders_models",
    "promise_models",
    "tracking_models",
    "webhook_models",
]
