"""Failure drills (``bizlogic drill``): inject a real fault into a deployment the operator
names, measure how the system notices and recovers, and keep the result.

* ``catalogue`` the drills, their injections and what "detected" and "recovered" mean;
* ``config``    the drill YAML: the target's name and, per drill, the commands it may run;
* ``target``    the deployments a drill acts on: a named target (an env file) or production;
* ``sandbox``   a throwaway Redis-mode deployment the drill starts and tears down itself;
* ``faults``    running the configured commands and the sandbox's own injections;
* ``measure``   the probes: /readyz, the drill's analyses, counts, recovery events;
* ``scenarios`` each drill's sequence: set up, inject, detect, recover;
* ``runner``    one drill from start to stored report: before, scenario, after, verdict;
* ``report``    the result as stored JSON, Markdown and a self-contained HTML page.
"""
