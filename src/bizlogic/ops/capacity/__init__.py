"""Capacity planning: sample resources daily, fit their growth, project their limits.

``sample`` measures, ``store`` keeps the samples in ``capacity_samples``, ``fit``
fits a series and finds when it crosses a limit, ``project`` builds the capacity
section that ``bizlogic tune`` and the periodic report show. ``bizlogic maintain``
(step ``capacity``) takes the samples.
"""
