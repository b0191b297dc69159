"""Named steps of the event path. Each is plain Python, testable without a broker, and returns
:class:`~streams.steps.base.Emit`, :class:`~streams.steps.base.Drop` or :class:`~streams.steps.base.Fail`."""
