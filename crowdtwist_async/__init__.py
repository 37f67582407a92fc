"""Async client for the CrowdTwist loyalty API.

```python
import crowdtwist_async as ct

async with ct.Session(api_key="KEY", client_id=123) as session:
    async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
        print(reward.title)
    coupons = await session.users.usable_coupons("alice@example.com", id_type="email")
```
"""

from ._attempt import RateLimiter
from ._config import DEFAULT_TIMEOUT, Limits, Timeout
from ._converter import to_dict
from ._endpoints import Users
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CrowdTwistError,
    IncompleteListingError,
    ListingChangedError,
    NotFoundError,
    RateLimiterError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from ._listing import ListingOptions
from ._models import (
    EligibilityType,
    FrequencyPeriod,
    IdType,
    IdTypeName,
    Partner,
    Reward,
    RewardsPage,
    Segment,
    UsableCoupon,
)
from ._pagination import AsyncPaginator
from ._retry import Retries
from ._session import Session
from ._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "CrowdTwistError",
    "EligibilityType",
    "FrequencyPeriod",
    "IdType",
    "IdTypeName",
    "IncompleteListingError",
    "Limits",
    "ListingChangedError",
    "ListingOptions",
    "NotFoundError",
    "Partner",
    "RateLimitError",
    "RateLimiter",
    "RateLimiterError",
    "ResponseDecodeError",
    "Retries",
    "Reward",
    "RewardsPage",
    "Segment",
    "ServerError",
    "Session",
    "Timeout",
    "UsableCoupon",
    "Users",
    "__version__",
    "to_dict",
]
