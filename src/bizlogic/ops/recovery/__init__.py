"""Auto-recovery: detect failures, act on what bizlogic owns, verify, escalate, record.

* ``config``  failure types, action chains and the alert-name mapping (defaults and
              ``BL_RECOVERY_*`` overrides), validated before anything runs;
* ``checks``  the condition behind each failure type, used to detect and to verify;
* ``actions`` restart_service, clear_cache, kill_processes, scale_up, notify_admin —
              each with a precondition, a plan (what dry-run reports) and a run;
* ``history`` the ``recovery_events`` table: every detection and action, the pause
              switch, budgets and backoff are read from it;
* ``leader``  one acting recovery process at a time;
* ``engine``  one failure through its chain under the safeguards;
* ``alerts``  Alertmanager webhook payloads → detections, idempotently;
* ``watch``   the daemon behind ``bizlogic recover watch``.
"""
