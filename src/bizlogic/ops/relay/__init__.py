"""The Alertmanager relay: chat and SMS channels Alertmanager cannot send to by itself.

Alertmanager delivers e-mail and Slack-compatible chat natively; WeCom (企业微信) group
robots, DingTalk (钉钉) robots, Feishu (飞书) bots and SMS gateways need a request format of
their own. Alertmanager posts its webhook payload to ``POST /api/business-logic/alerts/
notify/{channel}``; the relay turns it into one readable message and sends it to the
channel of that name in ``BL_NOTIFY_CONFIG`` (docs/operations.md, "Chat and SMS").

``config`` reads and checks the file, ``message`` renders a payload, ``channels`` builds
each kind's request (signing included), ``send`` delivers with bounded retries and keeps
every secret out of what it reports.
"""

from bizlogic.ops.relay.config import (
    KINDS,
    Channel,
    NotifyConfig,
    NotifyConfigError,
    load_notify_config,
)
from bizlogic.ops.relay.message import Notice
from bizlogic.ops.relay.send import ChannelError, Relay

__all__ = [
    "KINDS",
    "Channel",
    "ChannelError",
    "Notice",
    "NotifyConfig",
    "NotifyConfigError",
    "Relay",
    "load_notify_config",
]
