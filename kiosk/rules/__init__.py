"""The hall's domain rules, pure: no Flask, no SQLAlchemy, no other kiosk module.

* :mod:`kiosk.rules.calendar` — workdays (State Council calendar + hall's own days),
  seasonal schedules, periods ``YYYY-Bn``, rectification deadlines.
* :mod:`kiosk.rules.attendance` — the four-slot day (:func:`evaluate_day`,
  :func:`attendance_day`) and the clock-in screen's :func:`classify_punch`.
* :mod:`kiosk.rules.ruleset` — the scoring rule file (``default_rules.toml``) and its hash.
* :mod:`kiosk.rules.scoring` — bimonthly scoring (:func:`score_period`) and the SPEC 5.7
  JSON (:func:`to_spec_json`).
* :mod:`kiosk.rules.explain` — why a person scored what they did.
* :mod:`kiosk.rules.badreview` — the bad-review loop's terms (callback, appeal, default
  ratings) and its report figures per unit.

Everything works in naive hall-local datetimes; callers convert stored instants.
"""
