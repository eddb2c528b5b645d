"""The support pack's words for the out-of-domain guard (pack.yaml: plugins.vocabulary).

STRONG words say "this is a support ticket" on their own; OFF_TOPIC ones are requests no
support task answers. Plurals are matched by the guard, so list singular forms.
"""

STRONG = [
    "refund",
    "charge",
    "charged",
    "invoice",
    "bill",
    "billing",
    "payment",
    "subscription",
    "order",
    "delivery",
    "package",
    "shipping",
    "shipped",
    "parcel",
    "account",
    "password",
    "login",
    "email",
    "error",
    "crash",
    "crashes",
    "broken",
    "router",
    "app",
    "laptop",
    "phone",
    "help",
    "support",
    "cancel",
    "upgrade",
    "signal",
    "screen",
    "battery",
    "update",
]
STRONG_PHRASES = ["not working", "log in", "sign in", "two-factor"]
WEAK = ["today", "week", "month", "please", "urgent", "asap", "again"]
OFF_TOPIC = ["recipe", "poem", "weather", "joke"]
