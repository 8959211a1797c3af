"""The periodic operations report (`bizlogic report`).

One pass gathers every section for a window ``[now - span, now)`` from where the
figures live (``gather``), each section computed by its own module (``service``,
``analyses``, ``curation``, ``operations``, ``documents``, ``changes``); the result is
one JSON-able document, rendered for people (``html``, ``markdown``) and sent
(``send``) through the channels of ``BL_NOTIFY_CONFIG`` (``delivery``).
"""
