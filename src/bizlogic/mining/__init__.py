"""Pure mining core: algorithms over a columnar :class:`~bizlogic.records.dataset.Dataset`."""
